"""The training library: one call of ``fit`` is one trial. Imports neither Optuna nor Hydra."""

from orchestrator.train.config import ExperimentConfig, validate_experiment
from orchestrator.train.loop import EvalCallback, fit
from orchestrator.train.result import Curves, TrainResult

__all__ = [
    "Curves",
    "EvalCallback",
    "ExperimentConfig",
    "TrainResult",
    "fit",
    "validate_experiment",
]
