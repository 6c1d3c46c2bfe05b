"""One trial's child process: started in its own process group, watched, and never left
running.

The child gets a session of its own (``start_new_session``), so a terminal's Ctrl-C
reaches only the worker, and stopping the trial reaches the child's own children too
(data-loader workers, a launcher's ranks) through the group. Its stdout and stderr go to
files (no pipe to fill up and block it). While it runs, ``on_tick`` reads what it
reported and says whether the trial should stop. Ways it ends:

- it exits by itself (any leftover processes of its group are killed);
- the trial is asked to stop: it gets ``grace`` seconds to notice (``trial_report.report``
  returns True once the stop file exists), then SIGTERM, then after ``grace`` SIGKILL;
- it runs past ``timeout``: SIGTERM, then SIGKILL after ``grace``;
- the worker is stopped (``Interrupted`` from SIGTERM/SIGINT, or any error): the same
  SIGTERM-then-SIGKILL on the way out, so no orphan outlives its worker.

A worker killed with SIGKILL cannot clean up; its child then runs to its own end.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TICK_SECONDS = 0.1  # how often a running child's reports are read


class ChildStartError(RuntimeError):
    """The command could not be started (not found, not executable)."""


@dataclass(frozen=True)
class ChildOutcome:
    """How the child ended."""

    returncode: int
    seconds: float
    timed_out: bool = False
    stopped: bool = False  # asked to stop by the trial (the report hook said so)


def run_child(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    out_dir: Path,
    on_tick: Callable[[], bool],
    stop_file: Path,
    timeout: float | None,
    grace: float,
) -> ChildOutcome:
    """Run ``argv`` to its end (see the module docstring); stdout and stderr into
    ``out_dir``."""
    with open(out_dir / "stdout.log", "wb") as out, open(out_dir / "stderr.log", "wb") as err:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=dict(env),
                start_new_session=True,
            )
        except OSError as error:
            raise ChildStartError(f"cannot start {argv[0]!r}: {error.strerror}") from None
    waiter: _Waiter | None = None
    try:  # from here on, every way out stops the child's group
        started = time.monotonic()
        waiter = _Waiter(proc)
        timed_out = stopped = False
        term_at = kill_at = None
        while not waiter.ended(TICK_SECONDS):
            now = time.monotonic()
            if not stopped and not timed_out and on_tick():
                stopped, term_at = True, now + grace
                stop_file.touch()
            if timeout is not None and not (timed_out or stopped) and now - started > timeout:
                timed_out, term_at = True, now
            if term_at is not None and now >= term_at:
                _signal_group(proc, signal.SIGTERM)
                term_at, kill_at = None, now + grace
            if kill_at is not None and now >= kill_at:
                _signal_group(proc, signal.SIGKILL)
                kill_at = None
        return ChildOutcome(proc.returncode, time.monotonic() - started, timed_out, stopped)
    finally:
        _end_group(proc, waiter, grace)


def _end_group(proc: subprocess.Popen[bytes], waiter: _Waiter | None, grace: float) -> None:
    """The child stopped if it still runs (SIGTERM, ``grace``, SIGKILL), then whatever is
    left of its group killed (its own children outlive it otherwise). The kill, the reaping
    and the pidfd's release happen even when a second signal cuts the grace short."""
    try:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while proc.poll() is None and time.monotonic() < deadline:
                left = max(deadline - time.monotonic(), 0.0)
                if waiter is not None:
                    waiter.ended(min(TICK_SECONDS, left))
                else:
                    time.sleep(min(TICK_SECONDS, left))
    finally:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
        if waiter is not None:
            waiter.close()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)  # the group's id is the child's pid (its own session)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already


class _Waiter:
    """Waits for the child's exit, waking at once when it exits (a pidfd on Linux), else
    polling."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.fd: int | None = None
        self.poller: select.poll | None = None
        try:
            self.fd = os.pidfd_open(proc.pid)
            self.poller = select.poll()  # not select(): any fd number, also past 1024
            self.poller.register(self.fd, select.POLLIN)
        except (AttributeError, OSError):
            self.close()

    def ended(self, seconds: float) -> bool:
        """True once the child has exited (reaped), waiting up to ``seconds``."""
        if self.proc.poll() is not None:
            return True
        if self.poller is not None:
            self.poller.poll(seconds * 1000)
            return self.proc.poll() is not None
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def close(self) -> None:
        self.poller = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
