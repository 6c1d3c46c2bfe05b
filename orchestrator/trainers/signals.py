"""SIGTERM and SIGINT in a worker: fail the running trial with the reason, then stop.

Left alone, SIGTERM kills the process and leaves its trial RUNNING (a zombie until the
heartbeat notices, reliability.md 1.5), and SIGINT can land inside a storage write. Here
the first signal is turned into ``Interrupted`` only while a trial's training runs (the
objective marks that window); between trials it just asks the worker loop to stop before
claiming another trial. ``Interrupted`` derives from ``KeyboardInterrupt`` on purpose:
Optuna's ``optimize`` marks the trial FAIL for it and re-raises it, while ordinary
``except Exception`` blocks in trainers cannot swallow it. Later signals are ignored while
the worker winds down (a terminal's Ctrl-C reaches every worker of the process group).

For as long as the loop runs, one logging filter on Optuna's handlers drops Optuna's
warnings (with the whole traceback) for every trial whose end the round says itself in
one line: a stopped trial, and a failed one (its traceback is in the trial's folder).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from orchestrator.exceptions import TrialFailed

# SIGHUP too: a closed terminal or SSH session must not leave a trial's child running.
HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """The worker was asked to stop (``signame``) while a trial was running."""

    def __init__(self, signame: str) -> None:
        self.signame = signame
        super().__init__(f"stopped by {signame}")


class StopSignals:
    """Installs the handlers (main thread only) and tracks whether a stop was asked."""

    def __init__(self) -> None:
        self.requested: str | None = None  # the signal's name once one arrived
        self._in_trial = False
        self._previous: dict[int, Any] = {}

    def install(self) -> bool:
        """Install the handlers; False (and nothing changed) off the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in HANDLED:
            self._previous[sig] = signal.signal(sig, self._handle)
        return True

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:
            return  # already stopping: let the clean-up finish
        self.requested = signal.Signals(signum).name
        if self._in_trial:
            self._in_trial = False
            raise Interrupted(self.requested)

    @contextmanager
    def trial_window(self) -> Iterator[None]:
        """Mark the code during which a signal interrupts the trial (the training)."""
        if self.requested is not None:
            raise Interrupted(self.requested)
        self._in_trial = True
        try:
            yield
        finally:
            self._in_trial = False


class _SaidByTheRound(logging.Filter):
    """Drops Optuna's warnings for a trial whose end the round says itself, in one line: a
    stopped trial (the stage says the stop once) and a failed one (the worker's line names
    the error and the trial's ``traceback.txt``; Optuna was given ``TrialFailed``). Those
    are "Trial n failed with parameters ... because of ..." with the traceback, then "Trial
    n failed with value None.", which only repeats the first and goes for every trial."""

    def filter(self, record: logging.LogRecord) -> bool:
        said = (KeyboardInterrupt, TrialFailed)
        if record.exc_info and isinstance(record.exc_info[1], said):
            return False
        return not record.getMessage().endswith("failed with value None.")


@contextmanager
def handling_stop_signals() -> Iterator[StopSignals]:
    """``with handling_stop_signals() as stop:`` for the length of a worker's loop."""
    stop = StopSignals()
    stop.install()
    quiet = _SaidByTheRound()
    handlers = list(logging.getLogger("optuna").handlers)  # a record's own logger's filters
    for handler in handlers:  # would miss Optuna's module loggers; its handlers see them all
        handler.addFilter(quiet)
    try:
        yield stop
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
        stop.restore()


@contextmanager
def interrupting_training() -> Iterator[None]:
    """Outside the worker loop (promotion's reruns, ``stage=train``): a stop signal during the
    training raises ``Interrupted``, so a child trainer is stopped before this process ends."""
    with handling_stop_signals() as stop, stop.trial_window():
        yield
