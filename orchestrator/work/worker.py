"""One worker in this process: the round's claim lock taken per claim, SIGTERM/SIGINT handled.

The same function runs the only worker of a plain ``make round-N``, one Hydra multirun
job, and each spawned local worker (``local_workers.py``).
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

from orchestrator.config.experiment import Experiment
from orchestrator.config.sections import StorageConfig
from orchestrator.rounds.space import Round
from orchestrator.store import paths
from orchestrator.trainers.cache import TrainerCache
from orchestrator.trainers.signals import handling_stop_signals
from orchestrator.work.claims import claim_lock
from orchestrator.work.loop import WorkerOptions, WorkerStats, run_round


def run_worker(
    rnd: Round,
    start: Experiment,
    storage: Any,
    *,
    storage_config: StorageConfig,
    studies: str | Path,
    worker: int | None,
    progress: bool,
    cache: TrainerCache | None = None,
    trials_limit: int | None = None,
) -> WorkerStats:
    """Run this worker's share of the round's trials; what it did."""
    stats = WorkerStats(worker)
    with closing(claim_lock(storage_config, studies, f"round:{rnd.name}")) as claim:
        with handling_stop_signals() as stop:
            options = WorkerOptions(
                artifacts_dir=paths.artifacts_dir(studies),
                worker=worker,
                claim=claim,
                stop=stop,
                progress=progress,
                trials_limit=trials_limit,
            )
            run_round(rnd, start, storage, options, stats=stats, cache=cache)
    return stats
