"""Trainers used by tests to exercise the trainer contract without training a network."""

from __future__ import annotations

from typing import Any

from orchestrator.train.config import ExperimentConfig


def analytic(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """A user-style trainer: objective = a known function of the config, returned as a dict."""
    value = abs(config.optimizer.lr - 0.1) + 0.01 * config.model.depth
    if on_eval is not None:
        on_eval(config.train.steps, {"val_error": value})
    return {
        "status": "completed",
        "objective": value,
        "best_step": config.train.steps,
        "metric": config.objective.metric,
        "direction": config.objective.direction,
        "steps": config.train.steps,
        "max_steps": config.train.steps,
        "final": {"val_error": value},
    }


def broken(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """Breaks the contract: a NaN objective for a run that claims to have completed."""
    return {**analytic(config), "objective": float("nan")}
