"""Fault and load scenarios against real stores, shared by the tests and ``make stress``.

Each scenario runs the real command line (``python -m orchestrator ...``) in subprocesses,
against a fresh SQLite file, journal file or PostgreSQL database, with the test trainers
``timed`` (a trial of a set length that logs every finished training) and ``chaos`` (the
same, but a named worker sends itself SIGKILL or SIGTERM mid-trial, once). ``audit`` then
reads the store: trials per study, lost trainings, duplicated points, retries, trials
left RUNNING.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import sqlalchemy
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[2]
STORES = ("sqlite", "journal", "postgres")
LOCK_MARKERS = (
    "database is locked",
    "storage error (",
    "StorageInternalError",
    "OperationalError",
)


def pg_settings() -> dict[str, str]:
    """The test server (scripts/postgres-local.sh creates it; .ci/run runs that)."""
    env = os.environ
    return {
        "user": env.get("ORCHESTRATOR_TEST_PG_USER", "orchestrator"),
        "password": env.get("ORCHESTRATOR_TEST_PG_PASSWORD", "orchestrator-test-pw"),
        "host": env.get("ORCHESTRATOR_TEST_PG_HOST", "127.0.0.1"),
        "port": env.get("ORCHESTRATOR_TEST_PG_PORT", "5432"),
        "db": env.get("ORCHESTRATOR_TEST_PG_DB", "orchestrator_test"),
    }


def _pg_url(db: str, with_password: bool = False) -> str:
    s = pg_settings()
    auth = f"{s['user']}:{s['password']}" if with_password else s["user"]
    return f"postgresql+psycopg2://{auth}@{s['host']}:{s['port']}/{db}"


def require_postgres() -> None:
    """Skip here without PostgreSQL; fail where CI requires it
    (``ORCHESTRATOR_REQUIRE_POSTGRES=1``: a scale-out test must never pass by skipping)."""
    import pytest

    reason = postgres_unavailable()
    if reason:
        if os.environ.get("ORCHESTRATOR_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def postgres_unavailable() -> str | None:
    """Why the PostgreSQL scenarios cannot run here, or None when they can."""
    try:
        engine = sqlalchemy.create_engine(_pg_url(pg_settings()["db"], with_password=True))
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as err:  # noqa: BLE001 - any failure means: no usable server
        return f"no PostgreSQL test server ({type(err).__name__}); run scripts/postgres-local.sh"
    return None


@dataclass
class Store:
    """A fresh store of one kind: the command-line overrides that select it, and its reader."""

    kind: str
    workdir: Path
    overrides: list[str]
    env: dict[str, str] = field(default_factory=dict)
    database: str | None = None

    def open(self) -> optuna.storages.BaseStorage:
        if self.kind == "journal":
            backend = optuna.storages.journal.JournalFileBackend(str(self.workdir / "journal.log"))
            return optuna.storages.JournalStorage(backend)
        if self.kind == "sqlite":
            return optuna.storages.RDBStorage(f"sqlite:///{self.workdir / 'tuning.db'}")
        assert self.database is not None
        return optuna.storages.RDBStorage(_pg_url(self.database, with_password=True))

    def drop(self) -> None:
        """Remove the PostgreSQL database (files are the caller's tmp dir)."""
        if self.database is None:
            return
        admin = sqlalchemy.create_engine(
            _pg_url(pg_settings()["db"], with_password=True), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(
                sqlalchemy.text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            )
        admin.dispose()


def make_store(kind: str, workdir: Path) -> Store:
    """A fresh, empty store of ``kind`` with fast heartbeats (1 s, stale after 5 s)."""
    workdir.mkdir(parents=True, exist_ok=True)
    common = [f"paths.studies={workdir}"]
    beat = ["storage.heartbeat_interval=1", "storage.grace_period=5"]
    if kind == "sqlite":
        return Store(kind, workdir, ["storage=sqlite", *common, *beat])
    if kind == "journal":
        return Store(kind, workdir, ["storage=journal", *common])
    name = f"orch_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(
        _pg_url(pg_settings()["db"], with_password=True), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    overrides = ["storage=postgres", f"storage.url={_pg_url(name)}", *common, *beat]
    env = {"PGPASSWORD": pg_settings()["password"]}  # libpq reads it: no password in the URL
    return Store(kind, workdir, overrides, env, name)


def command(store: Store, *args: str, multirun: bool = False) -> list[str]:
    head = [sys.executable, "-m", "orchestrator"] + (["-m"] if multirun else [])
    return [*head, *args, *store.overrides]


def run(
    store: Store,
    cmd: list[str],
    *,
    trial_seconds: float = 0.0,
    chaos: str = "",
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run the command to its end with the scenario's environment."""
    return subprocess.run(
        cmd, cwd=ROOT, env=env_for(store, trial_seconds, chaos), capture_output=True,
        text=True, timeout=timeout,
    )  # fmt: skip


def env_for(store: Store, trial_seconds: float, chaos: str) -> dict[str, str]:
    chaos_dir = store.workdir / "chaos"
    chaos_dir.mkdir(exist_ok=True)
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ORCHESTRATOR_TEST_TRIAL_SECONDS": str(trial_seconds),
        "ORCHESTRATOR_TEST_FINISHED_LOG": str(store.workdir / "finished.jsonl"),
        "ORCHESTRATOR_TEST_CHAOS": chaos,
        "ORCHESTRATOR_TEST_CHAOS_DIR": str(chaos_dir),
        **store.env,
    }


@dataclass
class Audit:
    """What the store holds for a round, checked against what the trainers finished."""

    budget_per_study: dict[str, int]  # study -> COMPLETE trials
    lost: int  # trainings that finished but whose trial is not COMPLETE (and not killed)
    duplicated: int  # COMPLETE trials repeating a point already COMPLETE in their study
    retries: int  # COMPLETE trials that re-ran a failed one (``failed_trial``)
    running: int  # trials left RUNNING
    waiting: int  # retries still queued
    failed: list[optuna.trial.FrozenTrial]

    @property
    def complete(self) -> int:
        return sum(self.budget_per_study.values())


def _point(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def _trainer_point(t: optuna.trial.FrozenTrial) -> str:
    p = t.params
    dropout = "model.dropout" in p
    return _point(
        {
            "lr": p["optimizer.lr"],
            "momentum": p.get("optimizer.momentum", 0.9),
            "depth": None,
            "dropout": dropout,
            "rate": p.get("model.dropout"),
        }
    )


def audit(store: Store, round_name: str) -> Audit:
    storage = store.open()
    per_study: dict[str, int] = {}
    store_points: Counter[str] = Counter()
    duplicated = retries = running = waiting = 0
    failed: list[optuna.trial.FrozenTrial] = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        name = summary.study_name
        if not name.startswith(f"{round_name}/") or name.endswith("/promotion"):
            continue
        trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        per_study[name] = len(done)
        points = Counter(_point(t.params) for t in done)
        duplicated += sum(n - 1 for n in points.values())
        retries += sum("failed_trial" in t.system_attrs for t in done)
        running += sum(t.state == TrialState.RUNNING for t in trials)
        waiting += sum(t.state == TrialState.WAITING for t in trials)
        failed += [t for t in trials if t.state == TrialState.FAIL]
        store_points.update(_trainer_point(t) for t in done)
    if isinstance(storage, optuna.storages.RDBStorage):
        storage.engine.dispose()
    log = store.workdir / "finished.jsonl"
    trained: Counter[str] = Counter()
    if log.exists():
        for line in log.read_text().splitlines():
            p = json.loads(line)
            trained[_point({**p, "depth": None})] += 1
    # A training that finished in a worker that was then killed before the trial was told
    # is re-run by design (its retry): the killed ones are the FAIL trials.
    killed = Counter(_trainer_point(t) for t in failed)
    lost = sum(max(0, n - store_points[p] - killed[p]) for p, n in trained.items())
    return Audit(per_study, lost, duplicated, retries, running, waiting, failed)


def lock_errors(*outputs: str) -> int:
    """Lines about locks or storage faults in the workers' output."""
    return sum(
        any(marker in line for marker in LOCK_MARKERS)
        for text in outputs
        for line in text.splitlines()
    )


@dataclass
class Row:
    """One line of ``make stress``'s table."""

    store: str
    scenario: str
    workers: int
    trials: int
    lost: int
    duplicated: int
    lock_errors: int
    retries: int
    running_left: int
    wall_s: float
    ok: bool


def load(store: Store, workers: int = 8, per_worker: int = 50) -> tuple[Row, Audit]:
    """N workers x M fast trials on a fresh store (round_2: 2 studies)."""
    total = workers * per_worker
    t0 = time.perf_counter()
    proc = run(store, command(
        store, "stage=work", "round=round_2", "trainer._target_=tests.support.trainers.timed",
        f"round.budget.trials_per_study={total // 2}", f"round.budget.workers={workers}",
    ))  # fmt: skip
    wall = time.perf_counter() - t0
    a = audit(store, "round_2")
    ok = proc.returncode == 0 and a.complete == total and not (a.lost or a.duplicated)
    errors = lock_errors(proc.stdout, proc.stderr)
    row = Row(store.kind, "load", workers, a.complete, a.lost, a.duplicated, errors, a.retries,
              a.running, wall, ok and not errors)  # fmt: skip
    if proc.returncode:
        print(proc.stderr[-3000:], file=sys.stderr)
    return row, a


KILL_ROUND = ["round=round_1", "trainer._target_=tests.support.trainers.chaos"]


def sigkill(store: Store, workers: int = 4, per_study: int = 8) -> tuple[Row, Audit]:
    """Worker 1 SIGKILLs itself mid-trial; the others fail its trial and retry it once."""
    t0 = time.perf_counter()
    proc = run(store, command(
        store, "stage=work", *KILL_ROUND, f"round.budget.trials_per_study={per_study}",
        f"round.budget.workers={workers}",
    ), trial_seconds=0.3, chaos="1:SIGKILL")  # fmt: skip
    wall = time.perf_counter() - t0
    a = audit(store, "round_1")
    ok = (
        proc.returncode == 0
        and all(n == per_study for n in a.budget_per_study.values())
        and len(a.failed) == 1
        and a.retries == 1
        and not (a.running or a.waiting or a.duplicated or a.lost)
    )
    errors = lock_errors(proc.stdout, proc.stderr)
    row = Row(store.kind, "sigkill", workers, a.complete, a.lost, a.duplicated, errors,
              a.retries, a.running, wall, ok)  # fmt: skip
    if proc.returncode:
        print(proc.stderr[-3000:], file=sys.stderr)
    return row, a


def sigterm(store: Store) -> tuple[Row, Audit, Audit]:
    """One worker (``worker=0``) gets SIGTERM mid-trial: exit 143, no trial left RUNNING,
    the trial FAIL with the reason and queued once; the same command then finishes."""
    cmd = command(store, "stage=work", *KILL_ROUND, "round.budget.trials_per_study=3", "worker=0")
    t0 = time.perf_counter()
    first = run(store, cmd, trial_seconds=0.3, chaos="0:SIGTERM")
    stopped = audit(store, "round_1")
    second = run(store, cmd, trial_seconds=0.3, chaos="0:SIGTERM")  # marker: no second signal
    wall = time.perf_counter() - t0
    a = audit(store, "round_1")
    ok = (
        first.returncode == 143
        and stopped.running == 0
        and [t.user_attrs.get("error") for t in stopped.failed]
        == ["interrupted by SIGTERM; queued again"]
        and stopped.waiting == 1
        and second.returncode == 0
        and all(n == 3 for n in a.budget_per_study.values())
        and a.retries == 1
        and not (a.running or a.waiting or a.duplicated or a.lost)
    )
    errors = lock_errors(first.stdout, first.stderr, second.stdout, second.stderr)
    row = Row(store.kind, "sigterm", 1, a.complete, a.lost, a.duplicated, errors, a.retries,
              stopped.running, wall, ok)  # fmt: skip
    if not ok:
        print(first.stderr[-2000:], second.stderr[-2000:], file=sys.stderr)
    return row, stopped, a


def multirun(store: Store, jobs: int = 4, per_study: int = 6) -> tuple[Row, Audit, list[int]]:
    """``orchestrator -m ... worker=0,1,2,3 hydra/launcher=joblib``: job 1 is stopped by
    SIGTERM (its job raises), then job 2 is SIGKILLed (joblib then aborts the sweep); the
    same command, re-run, finishes."""
    workers = ",".join(str(i) for i in range(jobs))
    cmd = command(
        store, "stage=work", *KILL_ROUND, f"round.budget.trials_per_study={per_study}",
        f"worker={workers}", "hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}",
        multirun=True,
    )  # fmt: skip
    t0 = time.perf_counter()
    chaos = "1:SIGTERM:0.2,2:SIGKILL:1-SIGTERM"  # the kill waits for the SIGTERM
    first = run(store, cmd, trial_seconds=1.0, chaos=chaos)
    proc = run(store, cmd, trial_seconds=1.0, chaos=chaos)  # the same command: resumes
    codes = [first.returncode, proc.returncode]
    wall = time.perf_counter() - t0
    a = audit(store, "round_1")
    raised = "stopped by SIGTERM" in first.stderr  # job 1 then raises JobFailed
    killed = "TerminatedWorkerError" in first.stderr
    ok = (
        raised
        and killed
        and codes[0] != 0
        and codes[-1] == 0
        and all(n == per_study for n in a.budget_per_study.values())
        and not (a.running or a.waiting or a.duplicated or a.lost)
    )
    row = Row(store.kind, "multirun", jobs, a.complete, a.lost, a.duplicated,
              lock_errors(proc.stdout, proc.stderr), a.retries, a.running, wall, ok)  # fmt: skip
    if not ok:
        print(codes, first.stderr[-3000:], proc.stderr[-3000:], file=sys.stderr)
    return row, a, codes
