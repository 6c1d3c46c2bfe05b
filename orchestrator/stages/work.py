"""stage=work: this process's share of the round's trials, then the round's answer.

In-process (one worker, or one Hydra multirun job) or ``budget.workers`` local worker
processes. Returns the exit code: 0 when every study has its budget, 128+signal when
stopped by one, 1 when a study was given up (too many failures, or workers died).
"""

from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path

import optuna

from orchestrator.exceptions import TrainerContractError
from orchestrator.stages.racing import first_half, races, stop_the_behind
from orchestrator.stages.round import RoundContext
from orchestrator.work.give_up import given_up, reopen
from orchestrator.work.local_workers import run_local_workers, worker_jobs
from orchestrator.work.loop import WorkerStats
from orchestrator.work.studies import format_summary, open_studies, summarise_all
from orchestrator.work.worker import run_worker


def work(ctx: RoundContext) -> int:
    """Run the trials; the round is ``finished`` in the ledger when they all are."""
    max_failures = ctx.rnd.budget.max_failures or ctx.rnd.trials_per_study
    for _, study in open_studies(ctx.rnd, ctx.start, ctx.storage):
        line = reopen(study, max_failures)  # given up by an earlier run: one more look
        if line is not None:
            print(f"  {line}")
    interrupted = _run_workers(ctx)
    studies = open_studies(ctx.rnd, ctx.start, ctx.storage)
    summaries = summarise_all(ctx.rnd, studies)
    print(format_summary(ctx.rnd, summaries, ctx.start.metric))
    if interrupted:
        print(
            f"stopped by {interrupted}: the running trial is FAIL with the reason and queued "
            "again; run the same command again to resume",
            file=sys.stderr,
        )
        return 128 + getattr(signal, interrupted, signal.SIGTERM).value
    unfinished = [
        (s.name, study)
        for s, (_, study) in zip(summaries, studies, strict=True)
        if s.finished < s.budget and not s.stopped
    ]
    if unfinished:
        _say_why(unfinished, max_failures)
        return 1
    ctx.ledger.set_round_status(ctx.rnd.name, "finished")
    return 0


def _say_why(unfinished: list[tuple[str, optuna.Study]], max_failures: int) -> None:
    """Each given-up study with what would finish it; the rest (workers died) resume."""
    reasons = [(name, given_up(study, max_failures)) for name, study in unfinished]
    for _, reason in reasons:
        if reason is not None:
            print(f"unfinished: {reason}", file=sys.stderr)  # the verdict SLURM logs show
    resumable = [name for name, reason in reasons if reason is None]
    if resumable:
        print(
            f"unfinished: {', '.join(resumable)} (workers died or stopped: see the log); run "
            "the same command again to resume",
            file=sys.stderr,
        )


def _run_workers(ctx: RoundContext) -> str | None:
    """Run the workers (racing: the first half, the decision, the rest); the signal that
    stopped them, if one did."""
    if races(ctx):
        interrupted = _run_phase(ctx, first_half(ctx))
        if interrupted:
            return interrupted
        stop_the_behind(ctx)
    return _run_phase(ctx)


def _run_phase(ctx: RoundContext, limit: int | None = None) -> str | None:
    """Every open study to its budget, or to ``limit`` trials (racing's first half); the
    signal that stopped the workers, if one did. The round itself is never changed, so its
    search space and recorded budget are the same in every phase and process."""
    root, rnd = ctx.root, ctx.rnd
    assert root.round is not None
    if root.worker is None and rnd.budget.workers > 1:
        print(f"  {rnd.budget.workers} worker processes on this machine")
        resolved = dataclasses.replace(root.round.budget, trials_per_study=rnd.trials_per_study)
        jobs = worker_jobs(
            dataclasses.replace(root.round, budget=resolved),  # one budget for every worker
            ctx.start,
            storage=root.storage,
            studies=root.paths.studies,
            n=rnd.budget.workers,
            log_dir=_log_dir(),
        )
        jobs = [dataclasses.replace(job, trials_limit=limit) for job in jobs]
        outcome = run_local_workers(rnd, ctx.storage, jobs, progress=sys.stderr.isatty())
        broken = next((s.contract_error for s in outcome.stats if s.contract_error), None)
        if broken is not None:
            raise TrainerContractError(broken)
        for s in outcome.stats:
            print(f"  {_stats_line(s)}")
        return outcome.interrupted
    stats = run_worker(
        rnd,
        ctx.start,
        ctx.storage,
        storage_config=root.storage,
        studies=root.paths.studies,
        worker=root.worker,
        progress=sys.stderr.isatty(),
        cache=ctx.cache,
        trials_limit=limit,
    )
    if root.worker is not None or stats.storage_errors or stats.reaped:
        print(f"  {_stats_line(stats)}")
    return stats.interrupted


def _stats_line(s: WorkerStats) -> str:
    who = "worker" if s.worker is None else f"worker {s.worker}"
    return (
        f"{who}: {s.trials} trials, {s.reaped} dead workers' trials re-queued, "
        f"{s.storage_errors} storage errors retried"
        + (f", stopped by {s.interrupted}" if s.interrupted else "")
    )


def _log_dir() -> Path | None:
    """The run's Hydra output directory when there is one (worker logs go there)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except (ImportError, ValueError):
        return None
