"""The Optuna storage from config: SQLite (default), journal file, or a database URL.

SQLite is set up for several processes (WAL journal, a long busy timeout) and its schema
is created once, before any worker starts. Heartbeats are on for RDB storages, so a trial
left RUNNING by a killed process is failed after the grace period and retried once with
the same parameters. Passwords in URLs are never printed (``redaction.py``).
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from optuna.storages.journal import JournalFileBackend

from orchestrator.config.sections import StorageConfig
from orchestrator.exceptions import ConfigError
from orchestrator.store.redaction import redact

KINDS = ("sqlite", "journal", "rdb")


def create_storage(
    cfg: StorageConfig, *, create_schema: bool = True
) -> optuna.storages.BaseStorage:
    """Build the storage (creating the SQLite schema now, before any worker uses it).

    ``create_schema=False``: a reader that runs beside the workers (the SLURM launcher's
    progress) must not race their schema creation (reliability.md 1.1); it neither creates
    tables nor checks their version, and fails on use until the workers have made them.
    """
    if cfg.kind not in KINDS:
        raise ConfigError("storage.kind", f"must be one of {', '.join(KINDS)}; got {cfg.kind!r}")
    if cfg.kind == "journal":
        path = Path(cfg.path).resolve()  # absolute: a trainer may change the directory
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = JournalFileBackend(str(path))
        return optuna.storages.JournalStorage(backend)
    # Pre-ping: PostgreSQL drops idle connections (optuna#5600) and Optuna sets it only for
    # MySQL. One small pool per worker: connections = workers x (pool_size + max_overflow).
    engine_kwargs: dict[str, object] = {
        "pool_pre_ping": True,
        "pool_size": cfg.pool_size,
        "max_overflow": cfg.max_overflow,
    }
    url = cfg.url
    if cfg.kind == "sqlite":
        if not cfg.url.startswith("sqlite:///"):
            raise ConfigError(
                "storage.url", f"sqlite needs sqlite:///<file>; got {redact(cfg.url)}"
            )
        path = Path(cfg.url.removeprefix("sqlite:///")).resolve()
        if create_schema:
            _prepare_sqlite_file(path)
        url = f"sqlite:///{path}"  # absolute: a trainer may change the directory (chdir)
        engine_kwargs = {"connect_args": {"timeout": cfg.busy_timeout}}
    heartbeat = cfg.heartbeat_interval
    try:
        with warnings.catch_warnings():  # heartbeat and retry are "experimental" since 2.8
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat,
                grace_period=cfg.grace_period if heartbeat else None,
                heartbeat_stale_trial_callback=retry if heartbeat else None,
                skip_table_creation=not create_schema,
                skip_compatibility_check=not create_schema,
            )
    except (ImportError, ModuleNotFoundError) as err:
        raise ConfigError("storage.url", f"no driver for {redact(cfg.url)}: {err}") from None


def dispose_storage(storage: optuna.storages.BaseStorage) -> None:
    """Close the storage's connections now (a worker's exit; reliability.md: too many clients)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


@contextmanager
def opened_storage(cfg: StorageConfig) -> Iterator[optuna.storages.BaseStorage]:
    """``with opened_storage(cfg) as storage:``: its connections closed on every way out."""
    storage = create_storage(cfg)
    try:
        yield storage
    finally:
        dispose_storage(storage)


def _prepare_sqlite_file(path: Path) -> None:
    """Create the directory and switch the file to WAL (persistent) so readers never block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
