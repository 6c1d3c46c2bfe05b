"""Parallel efficiency of local workers: N workers' trials/s over N x one worker's.

Each run is the real command (``orchestrator stage=work round.budget.workers=N``) on a
fresh store with 0.5 s trials (``tests.support.trainers.timed``), 12 trials per worker. Two
figures per row: steady state (read from the store: trials per second once every worker
has started, see ``steady_rate``) and end to end (wall time of the command, including
starting N Python processes that each import torch; one worker runs in-process).

    uv run python -m tests.benchmarks.bench_workers [--trial-seconds 0.5] [--per-worker 8]
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from tests.support import scale_out as h


def one_run(kind: str, workers: int, per_worker: int, seconds: float) -> tuple[float, float]:
    """(steady-state trials/s, end-to-end trials/s) for one fresh store."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-workers-{kind}-"))
    store = h.make_store(kind, work)
    try:
        total = workers * per_worker
        t0 = time.perf_counter()
        proc = h.run(store, h.command(
            store, "stage=work", "round=round_2", "trainer._target_=tests.support.trainers.timed",
            f"round.budget.trials_per_study={total // 2}", f"round.budget.workers={workers}",
        ), trial_seconds=seconds)  # fmt: skip
        wall = time.perf_counter() - t0
        if proc.returncode:
            raise RuntimeError(proc.stderr[-2000:])
        storage = store.open()
        trials = [
            t
            for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
            for t in optuna.load_study(study_name=s.study_name, storage=storage).get_trials(
                deepcopy=False, states=(TrialState.COMPLETE,)
            )
        ]
        return steady_rate(trials), len(trials) / wall
    finally:
        store.drop()
        shutil.rmtree(work, ignore_errors=True)


def steady_rate(trials: list[optuna.trial.FrozenTrial]) -> float:
    """Trials/s once every worker runs: from the moment the last worker to start began its
    first trial (workers start staggered while each imports torch) to the last trial's end,
    counting the trials that started in that window."""
    first: dict[int, datetime.datetime] = {}
    for t in trials:
        pid = t.user_attrs["worker"]["pid"]
        first[pid] = min(first.get(pid, t.datetime_start), t.datetime_start)
    begin = max(first.values())
    end = max(t.datetime_complete for t in trials)
    counted = [t for t in trials if t.datetime_start >= begin]
    return len(counted) / (end - begin).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trial-seconds", type=float, default=0.5)
    parser.add_argument("--per-worker", type=int, default=12)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--stores", default="sqlite,journal")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(f"parallel efficiency, {args.trial_seconds} s trials, {args.per_worker} per worker")
    print("| store | workers | trials/s (steady) | efficiency (steady) | trials/s (end to end) "
          "| efficiency (end to end) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for kind in args.stores.split(","):
        base: tuple[float, float] | None = None
        for n in counts:
            steady, e2e = one_run(kind, n, args.per_worker, args.trial_seconds)
            base = base or (steady, e2e)  # the first count is the reference (1 worker)
            ref = counts[0]
            print(
                f"| {kind} | {n} | {steady:.2f} | {steady / (n / ref * base[0]):.2f} "
                f"| {e2e:.2f} | {e2e / (n / ref * base[1]):.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
