"""The training library: one call of ``fit`` is one trial. Imports neither Optuna nor Hydra.

The names below load on first use, so ``from orchestrator.train.config import ...`` (the
schema, which every stage reads) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.train.config import ExperimentConfig, validate_experiment
    from orchestrator.train.loop import EvalCallback, fit
    from orchestrator.train.result import Curves, TrainResult

_HOMES = {
    "Curves": "orchestrator.train.result",
    "EvalCallback": "orchestrator.train.loop",
    "ExperimentConfig": "orchestrator.train.config",
    "TrainResult": "orchestrator.train.result",
    "fit": "orchestrator.train.loop",
    "validate_experiment": "orchestrator.train.config",
}

__all__ = [
    "Curves",
    "EvalCallback",
    "ExperimentConfig",
    "TrainResult",
    "fit",
    "validate_experiment",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
