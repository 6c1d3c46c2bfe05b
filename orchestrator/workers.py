"""``budget.workers=N``: N worker processes on this machine share the round's studies.

The parent has already created the schema and every study of the round (``stages``), so
workers only load them. Each worker is a fresh ``spawn`` process (never a fork of a
process holding database connections or CUDA state) pinned to its GPU and its share of
the cores before torch starts CUDA; it builds its own storage, runs ``run_round`` under
the round's claim lock, disposes its engine, and reports what it did. The parent shows
the round's progress from the store, forwards SIGTERM/SIGINT to the workers (each fails
its running trial with the reason), and reports workers that died: their trials are
failed and retried by the surviving workers.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from tqdm.auto import tqdm

from orchestrator import paths
from orchestrator.budget import count_trials
from orchestrator.claims import claim_lock
from orchestrator.gpus import configure_worker, gpu_env, visible_gpus
from orchestrator.roles import Round, parse_round
from orchestrator.runner import WorkerStats, run_round
from orchestrator.signals import handling_stop_signals
from orchestrator.storage import (
    RedactingFormatter,
    StorageConfig,
    create_storage,
    dispose_storage,
)
from orchestrator.train.config import ExperimentConfig

log = logging.getLogger(__name__)


@dataclass
class WorkerJob:
    """Everything a worker process needs, as plain picklable data."""

    round_config: Any  # RoundConfig
    start: ExperimentConfig
    storage: StorageConfig
    studies: str
    trainer_target: str
    worker: int
    workers_on_machine: int
    log_file: str | None = None


def _log_to(path: str | None, worker: int) -> None:
    fmt = RedactingFormatter("[%(asctime)s][%(levelname)s] %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path:
        handlers.append(logging.FileHandler(path))
    root = logging.getLogger()
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(logging.INFO)


def run_worker(
    rnd: Round,
    start: ExperimentConfig,
    storage: Any,
    *,
    storage_config: StorageConfig,
    studies: str,
    trainer_target: str,
    worker: int | None,
    progress: bool,
) -> WorkerStats:
    """One worker's loop in this process: the round's claim lock, SIGTERM/SIGINT handled."""
    stats = WorkerStats(worker)
    claim = claim_lock(storage_config, studies, f"round:{rnd.name}")
    try:
        with handling_stop_signals() as stop:
            run_round(
                rnd,
                start,
                storage,
                trainer_target=trainer_target,
                artifacts_dir=paths.artifacts_dir(studies),
                progress=progress,
                worker=worker,
                claim=claim,
                stop=stop,
                stats=stats,
            )
    finally:
        claim.close()
    return stats


def work(job: WorkerJob) -> WorkerStats:
    """A spawned worker's life: pin, open its own store, run trials, close the store."""
    configure_worker(job.worker, job.workers_on_machine)
    rnd = parse_round(job.round_config, job.start)
    storage = create_storage(job.storage)
    try:
        return run_worker(
            rnd,
            job.start,
            storage,
            storage_config=job.storage,
            studies=job.studies,
            trainer_target=job.trainer_target,
            worker=job.worker,
            progress=False,
        )
    finally:
        dispose_storage(storage)


def _worker_main(job: WorkerJob, report: str) -> None:
    """The entry of a spawned worker process; its stats go to the file ``report``."""
    _log_to(job.log_file, job.worker)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    stats = work(job)
    # A file, not a multiprocessing queue: a killed worker cannot leave a lock held.
    Path(report).write_text(json.dumps(dataclasses.asdict(stats)))
    if stats.interrupted:
        sys.exit(128 + getattr(signal, stats.interrupted, signal.SIGTERM).value)


@dataclass
class WorkersOutcome:
    """How the local workers ended."""

    stats: list[WorkerStats]
    exit_codes: dict[int, int]  # worker -> exit code (negative: killed by that signal)
    interrupted: str | None = None  # the signal the parent received, if any


def run_local_workers(
    rnd: Round,
    start: ExperimentConfig,
    storage: Any,
    *,
    round_config: Any,
    storage_config: StorageConfig,
    studies: str,
    trainer_target: str,
    n: int,
    log_dir: Path | None = None,
    progress: bool = True,
    poll_seconds: float = 1.0,
) -> WorkersOutcome:
    """Start ``n`` workers, follow the round's progress in the store, and wait for them."""
    ctx = mp.get_context("spawn")
    reports = Path(tempfile.mkdtemp(prefix="orchestrator-workers-"))
    visible = visible_gpus()
    procs: dict[int, Any] = {}
    received: list[str] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        for proc in procs.values():
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)

    previous = {}
    if threading.current_thread() is threading.main_thread():  # installed before any start
        previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    for i in range(n):
        job = WorkerJob(
            round_config=round_config,
            start=start,
            storage=storage_config,
            studies=studies,
            trainer_target=trainer_target,
            worker=i,
            workers_on_machine=n,
            log_file=str(log_dir / f"worker-{i}.log") if log_dir else None,
        )
        saved = dict(os.environ)
        os.environ.update(gpu_env(i, visible))  # inherited by the child before torch starts
        try:
            report = str(reports / f"{i}.json")
            proc = ctx.Process(target=_worker_main, args=(job, report), name=f"worker-{i}")
            proc.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        procs[i] = proc
        if received:  # a stop arrived while starting: start no more
            break
    if visible:
        log.info("workers on GPUs: %s", {i: visible[i % len(visible)] for i in procs})
    study_ids = _study_ids(rnd, storage)
    total = rnd.budget.trials_per_study * len(study_ids)
    bar = tqdm(total=total, disable=not progress, unit="trial", dynamic_ncols=True)
    bar.set_description(f"{rnd.name} [{n} workers]")
    try:
        while any([p.is_alive() for p in procs.values()]):  # every one: reaps the dead
            try:
                bar.n = sum(c.finished for c in count_trials(storage, study_ids))
                bar.refresh()
            except Exception as err:  # noqa: BLE001 - the display must not stop the round
                log.debug("progress read failed: %s", err)
            time.sleep(poll_seconds)
        for p in procs.values():
            p.join()
    finally:
        bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    codes = {i: p.exitcode for i, p in procs.items()}
    stats = [WorkerStats(**json.loads(f.read_text())) for f in sorted(reports.glob("*.json"))]
    shutil.rmtree(reports, ignore_errors=True)
    for i, code in codes.items():
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            log.warning("worker %d was killed by %s; its trial is retried by the others", i, name)
    return WorkersOutcome(
        sorted(stats, key=lambda s: s.worker or 0), codes, received[0] if received else None
    )


def _study_ids(rnd: Round, storage: Any) -> list[int]:
    return [storage.get_study_id_from_name(rnd.study_name(p)) for p in rnd.points()]
