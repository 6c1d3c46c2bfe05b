"""The orchestrator's exceptions: each message says what must hold, what was found, and the fix."""

from __future__ import annotations


class OrchestratorError(Exception):
    """Base class for every error the orchestrator raises on purpose."""


class ConfigError(OrchestratorError, ValueError):
    """A configuration value is invalid; ``key`` names it (dotted path, e.g. ``optimizer.lr``)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


class ConfigFileError(OrchestratorError):
    """A config file (a round, an incumbent, a draft) cannot be read: ``<file> line <n>: why``."""


class DataError(OrchestratorError):
    """A data set cannot be loaded (files missing or unreadable); the message says the fix."""


class TrainerContractError(OrchestratorError, ValueError):
    """A trainer returned something that is not a valid ``TrainResult``
    (docs/trainer-contract.md)."""


class StorageError(OrchestratorError):
    """The store kept failing (locked, unreachable); finished trials are kept, re-run resumes."""


class TrialFailed(OrchestratorError):
    """A trial failed and the round said so itself: one line in the worker's log, the
    traceback in the trial's folder. Optuna is given this in place of the trainer's
    exception, so its warning with the whole traceback is not printed again for every
    failed trial (``trainers/signals.py`` filters it), and the failed run's traceback (its
    model, optimizer and batches) does not outlive the trial."""

    def __init__(self, number: int | None, line: str) -> None:
        self.number = number
        super().__init__(line)
