"""Cross-process locks that serialise the few steps that must not interleave between workers.

Two things break when workers race: creating the store's schema (Optuna's RDB storage
creates tables and stamps Alembic without a lock; 11 of 12 workers crashed on a fresh
SQLite file in reliability.md 1.1) and claiming a trial (two workers that both see one
slot left in a study would both start a trial, overshooting the budget; two that both pop
the same retried WAITING trial would run one point twice, optuna#4002). Each is wrapped in
a ``ClaimLock`` held for milliseconds: count the study's trials, then create or pop one.

The lock must be as wide as the store: a file lock (``flock``) for SQLite and the journal
file, which live on one machine; a PostgreSQL advisory lock for PostgreSQL, which workers
on several machines share. Both are released by the operating system or the server when
their holder dies, so a SIGKILLed worker never leaves the round locked.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path

import sqlalchemy
from sqlalchemy.engine import make_url

from orchestrator.config.sections import StorageConfig
from orchestrator.store.closing import ClosesOnExit
from orchestrator.store.redaction import redact


class ClaimLock(ClosesOnExit):
    """A reentrant-free mutex across processes; ``release`` is idempotent.

    ``with claim_lock(...):`` holds it once, then gives back what it holds open. A lock
    taken many times (the worker loop's, per claim) is acquired and released by hand and
    closed with ``contextlib.closing``.
    """

    def acquire(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Give back what the lock holds open (a file, a database connection)."""
        self.release()

    def __enter__(self) -> ClaimLock:
        self.acquire()
        return self


class FileClaimLock(ClaimLock):
    """``flock`` on a file beside the store: one machine (SQLite, journal file)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd: int | None = None
        self.held = False

    def acquire(self) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.held = True

    def release(self) -> None:
        if self.held and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self.held = False

    def close(self) -> None:
        self.release()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class PostgresClaimLock(ClaimLock):
    """A session-level ``pg_advisory_lock`` on one dedicated connection: every machine."""

    def __init__(self, url: str, name: str) -> None:
        # A 64-bit key from the name; the same name gives the same lock on every machine.
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self._engine = sqlalchemy.create_engine(url, pool_size=1, max_overflow=0)
        self._conn: sqlalchemy.Connection | None = None
        self.held = False
        self._url = url

    def _connection(self) -> sqlalchemy.Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def acquire(self) -> None:
        for attempt in range(5):
            try:
                self._connection().execute(
                    sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": self.key}
                )
                self.held = True
                return
            except sqlalchemy.exc.OperationalError:  # the server dropped us: reconnect
                self._conn = None
                if attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))

    def release(self) -> None:
        if self.held and self._conn is not None:
            try:
                self._conn.execute(
                    sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key}
                )
            except sqlalchemy.exc.DBAPIError:  # connection gone: the server released it
                self._conn = None
        self.held = False

    def close(self) -> None:
        try:
            self.release()
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._engine.dispose()

    def __repr__(self) -> str:
        return f"PostgresClaimLock({redact(self._url)}, key={self.key})"


def claim_lock(storage: StorageConfig, studies: str | Path, name: str) -> ClaimLock:
    """The lock named ``name`` (a round, or ``schema``) as wide as the configured store."""
    if storage.kind == "rdb":
        backend = make_url(storage.url).get_backend_name()
        if backend == "postgresql":
            return PostgresClaimLock(storage.url, f"orchestrator:{name}")
    # SQLite, the journal file, and other databases: workers on this machine only.
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return FileClaimLock(Path(studies) / ".locks" / f"{safe}.lock")


class NullClaimLock(ClaimLock):
    """No lock: one worker in one process that shares its store with nobody (tests, benches)."""

    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass
