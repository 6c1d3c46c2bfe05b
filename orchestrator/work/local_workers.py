"""``budget.workers=N``: N worker processes on this machine share the round's studies.

The parent has already created the schema and every study of the round (the work stage),
so workers only load them. Each worker is a fresh ``spawn`` process (never a fork of a
process holding database connections or CUDA state) that pins itself to its GPU and its
share of the cores before torch starts CUDA; it builds its own storage, runs the worker
loop under the round's claim lock, disposes its engine, and reports what it did. The
parent shows the round's progress from the store, forwards SIGTERM/SIGINT to the
workers (each fails its running trial with the reason), and reports workers that died:
their trials are failed and retried by the surviving workers.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

from tqdm.auto import tqdm

from orchestrator.config.experiment import Experiment
from orchestrator.config.round import RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.exceptions import TrainerContractError
from orchestrator.rounds.space import Round
from orchestrator.rounds.validate import parse_round
from orchestrator.store.record import TrialAttr
from orchestrator.store.redaction import RedactingFormatter
from orchestrator.store.storage import opened_storage
from orchestrator.trainers.signals import HANDLED
from orchestrator.work.budget import count_trials
from orchestrator.work.gpus import configure_worker, visible_gpus
from orchestrator.work.loop import WorkerStats
from orchestrator.work.worker import run_worker

log = logging.getLogger(__name__)


@dataclass
class WorkerJob:
    """Everything a worker process needs, as plain picklable data."""

    round_config: RoundConfig
    start: Experiment
    storage: StorageConfig
    studies: str
    worker: int
    workers_on_machine: int
    gpus: list[str] = field(default_factory=list)  # the GPUs the parent saw; i mod n is ours
    log_file: str | None = None
    trials_limit: int | None = None  # racing's first half: stop each study at this many


@dataclass
class WorkersOutcome:
    """How the local workers ended."""

    stats: list[WorkerStats]
    exit_codes: dict[int, int | None]  # worker -> exit code (negative: killed by that signal)
    interrupted: str | None = None  # the signal the parent received, if any


def run_local_workers(
    rnd: Round,
    storage: Any,
    jobs: list[WorkerJob],
    *,
    progress: bool = True,
    poll_seconds: float = 1.0,
) -> WorkersOutcome:
    """Start one process per job, follow the round's progress in the store, wait for them."""
    reports = Path(tempfile.mkdtemp(prefix="orchestrator-workers-"))
    procs: dict[int, BaseProcess] = {}
    with forwarding_stop_signals(procs) as received:
        for job in jobs:
            procs[job.worker] = _start(job, reports / f"{job.worker}.json")
            if received:  # a stop arrived while starting: start no more
                break
        if jobs and jobs[0].gpus:
            log.info("workers on GPUs: %s", {i: _gpu(jobs[i]) for i in procs})
        _follow(rnd, storage, procs, progress, poll_seconds)
    codes = {i: p.exitcode for i, p in procs.items()}
    stats = [WorkerStats(**json.loads(f.read_text())) for f in sorted(reports.glob("*.json"))]
    shutil.rmtree(reports, ignore_errors=True)
    _report_killed(codes)
    return WorkersOutcome(
        sorted(stats, key=lambda s: s.worker or 0), codes, received[0] if received else None
    )


def worker_jobs(
    round_config: RoundConfig,
    start: Experiment,
    *,
    storage: StorageConfig,
    studies: str,
    n: int,
    log_dir: Path | None,
) -> list[WorkerJob]:
    """One job per local worker; each gets the GPU list as this process sees it."""
    gpus = visible_gpus()
    return [
        WorkerJob(
            round_config=round_config,
            start=start,
            storage=storage,
            studies=studies,
            worker=i,
            workers_on_machine=n,
            gpus=gpus,
            log_file=str(log_dir / f"worker-{i}.log") if log_dir else None,
        )
        for i in range(n)
    ]


@contextmanager
def forwarding_stop_signals(procs: dict[int, BaseProcess]) -> Iterator[list[str]]:
    """SIGTERM/SIGINT to this parent go on to every live worker as SIGTERM; the names of the
    signals received are collected in the yielded list. Installed before any worker starts."""
    received: list[str] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        for proc in procs.values():
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, forward) for s in HANDLED}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start(job: WorkerJob, report: Path) -> BaseProcess:
    proc = mp.get_context("spawn").Process(
        target=_worker_main, args=(job, str(report)), name=f"worker-{job.worker}"
    )
    proc.start()
    return proc


def _gpu(job: WorkerJob) -> str:
    return job.gpus[job.worker % len(job.gpus)]


def _follow(
    rnd: Round, storage: Any, procs: dict[int, BaseProcess], progress: bool, poll: float
) -> None:
    """Show the round's progress from the store until every worker has ended."""
    study_ids = [storage.get_study_id_from_name(rnd.study_name(p)) for p in rnd.points()]
    total = rnd.trials_per_study * len(study_ids)
    carried = sum(
        TrialAttr.CARRIED_FROM in t.user_attrs
        for i in study_ids
        for t in storage.get_all_trials(i, deepcopy=False)
    )
    bar = tqdm(total=total, disable=not progress, unit="trial", dynamic_ncols=True)
    bar.set_description(f"{rnd.name} [{len(procs)} workers]")
    try:
        while any([p.is_alive() for p in procs.values()]):  # every one: reaps the dead
            try:
                bar.n = sum(c.finished for c in count_trials(storage, study_ids)) - carried
                bar.refresh()
            except Exception as err:  # noqa: BLE001 - the display must not stop the round
                log.debug("progress read failed: %s", err)
            time.sleep(poll)
        for p in procs.values():
            p.join()
    finally:
        bar.close()


def _report_killed(codes: dict[int, int | None]) -> None:
    for i, code in codes.items():
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            log.warning("worker %d was killed by %s; its trial is retried by the others", i, name)


def work(job: WorkerJob) -> WorkerStats:
    """A spawned worker's life: pin, open its own store, run trials, close the store."""
    configure_worker(job.worker, job.workers_on_machine, visible=job.gpus)
    rnd = parse_round(job.round_config, job.start)
    with opened_storage(job.storage) as storage:
        return run_worker(
            rnd,
            job.start,
            storage,
            storage_config=job.storage,
            studies=job.studies,
            worker=job.worker,
            progress=False,
            trials_limit=job.trials_limit,
        )


def _log_to(path: str | None) -> None:
    fmt = RedactingFormatter("[%(asctime)s][%(levelname)s] %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path:
        handlers.append(logging.FileHandler(path))
    root = logging.getLogger()
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(logging.INFO)


def _worker_main(job: WorkerJob, report: str) -> None:
    """The entry of a spawned worker process; its stats go to the file ``report``."""
    _log_to(job.log_file)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        stats = work(job)
    except TrainerContractError as err:  # the parent says it once, as the in-process worker
        stats = WorkerStats(job.worker, contract_error=str(err))
    # A file, not a multiprocessing queue: a killed worker cannot leave a lock held.
    Path(report).write_text(json.dumps(dataclasses.asdict(stats)))
    if stats.contract_error:
        sys.exit(2)
    if stats.interrupted:
        sys.exit(128 + getattr(signal, stats.interrupted, signal.SIGTERM).value)
