"""The orchestrator's per-trial overhead against plain Optuna ask/tell on the same storage.

Both sides run the same number of trials of a two-parameter search with a trainer that
returns at once and reports one intermediate value, on a fresh SQLite file each. The
reference is the minimal loop a person would write (ask, suggest, report, tell); the
orchestrator adds what it is for: round provenance, the trial config built and
validated, the constraint for infeasibility, one result attribute, budget accounting,
and (heartbeat row) Optuna's heartbeat thread. Prints ms per trial and the ratio.

    make bench-overhead         # or: uv run python -m tests.benchmarks.bench_overhead
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import optuna

from orchestrator.roles import BudgetConfig, RoundConfig, parse_round
from orchestrator.runner import run_round
from orchestrator.storage import StorageConfig, create_storage
from orchestrator.train.config import ExperimentConfig

NUISANCE = {
    "optimizer.lr": {"low": 1e-3, "high": 1.0, "log": True},
    "optimizer.momentum": {"low": 0.5, "high": 0.99},
}


def plain_ask_tell(storage: optuna.storages.BaseStorage, trials: int) -> float:
    study = optuna.create_study(
        study_name="plain", storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    start = time.perf_counter()
    for _ in range(trials):
        trial = study.ask()
        trial.suggest_float("optimizer.lr", 1e-3, 1.0, log=True)
        trial.suggest_float("optimizer.momentum", 0.5, 0.99)
        trial.report(0.5, 1)
        study.tell(trial, 0.5)
    return (time.perf_counter() - start) / trials


def orchestrated(storage: optuna.storages.BaseStorage, trials: int, tmp: Path) -> float:
    raw = RoundConfig(
        name="bench",
        goal="overhead",
        nuisance=dict(NUISANCE),
        budget=BudgetConfig(trials_per_study=trials),
    )
    start_cfg = ExperimentConfig()
    rnd = parse_round(raw, start_cfg)
    start = time.perf_counter()
    run_round(
        rnd,
        start_cfg,
        storage,
        trainer_target="tests.trainers.noop",
        artifacts_dir=tmp / "artifacts",
        progress=False,
    )
    return (time.perf_counter() - start) / trials


def measure(trials: int, repeats: int, heartbeat: int | None) -> tuple[float, float]:
    plain, ours = [], []
    for r in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            cfg = StorageConfig(url=f"sqlite:///{tmp}/p{r}.db", heartbeat_interval=heartbeat)
            plain.append(plain_ask_tell(create_storage(cfg), trials))
            cfg = StorageConfig(url=f"sqlite:///{tmp}/o{r}.db", heartbeat_interval=heartbeat)
            ours.append(orchestrated(create_storage(cfg), trials, tmp))
    return statistics.median(plain), statistics.median(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"{args.trials} trials, no-op trainer, SQLite (WAL), median of {args.repeats}")
    print(f"{'storage':<28}{'plain ms/trial':>16}{'orchestrator':>14}{'ratio':>8}")
    for label, heartbeat in (("sqlite, heartbeat off", None), ("sqlite, heartbeat 10 s", 10)):
        plain, ours = measure(args.trials, args.repeats, heartbeat)
        print(f"{label:<28}{plain * 1e3:>16.2f}{ours * 1e3:>14.2f}{ours / plain:>8.2f}")


if __name__ == "__main__":
    main()
