"""The outcome of a run as it happens: best evaluation, divergence, early stop; then the result.

Divergence is an outcome, not a number: a non-finite training loss, one past
``train.divergence_factor`` times the first step's loss, or a non-finite validation loss
stops the run and is reported with its step and reason, never as a NaN objective.
"""

from __future__ import annotations

import math

from orchestrator.train.config import METRIC_DIRECTIONS, ExperimentConfig
from orchestrator.train.result import Curves, Status, TrainResult


class RunTracker:
    """Tracks the best evaluation, divergence and early stopping; builds the result."""

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.metric = config.objective.metric
        self.maximize = METRIC_DIRECTIONS[self.metric] == "maximize"
        self.best: float | None = None
        self.best_step: int | None = None
        self.final: dict[str, float] = {}
        self.initial_loss: float | None = None
        self.diverged_step: int | None = None
        self.reason: str | None = None
        self.stopped = False
        self.last_eval = 0

    @property
    def diverged(self) -> bool:
        return self.diverged_step is not None

    def check_divergence(self, losses: list[float], offset: int, factor: float) -> None:
        """Mark the first step whose loss is non-finite or above factor x the initial loss."""
        for k, loss in enumerate(losses):
            step = offset + k + 1
            if not math.isfinite(loss):
                self._diverge(step, f"non-finite training loss ({loss})")
                return
            if self.initial_loss is None:
                self.initial_loss = loss
            elif loss > factor * self.initial_loss:
                self._diverge(
                    step,
                    f"training loss {loss:.4g} exceeded {factor:g}x the initial loss "
                    f"{self.initial_loss:.4g}",
                )
                return

    def observe(self, step: int, metrics: dict[str, float]) -> None:
        """Take an evaluation: a non-finite validation loss is divergence, else track the best."""
        self.last_eval = step
        if not math.isfinite(metrics["val_loss"]):
            self._diverge(step, f"non-finite validation loss ({metrics['val_loss']})")
            return
        self.final = {k: v for k, v in metrics.items() if k != "lr"}
        value = metrics[self.metric]
        better = self.best is None or (value > self.best if self.maximize else value < self.best)
        if better:
            self.best, self.best_step = value, step

    def _diverge(self, step: int, reason: str) -> None:
        self.diverged_step, self.reason = step, reason

    def result(
        self,
        *,
        steps: int,
        examples: int,
        train_time_s: float,
        curves: Curves,
        device: str,
        num_params: int,
        wall_time_s: float,
    ) -> TrainResult:
        status: Status
        if self.diverged:
            status, objective, best_step = "diverged", None, None
        else:
            status = "stopped" if self.stopped else "completed"
            objective, best_step = self.best, self.best_step
        return TrainResult(
            status=status,
            objective=objective,
            best_step=best_step,
            metric=self.metric,
            direction=self.config.objective.direction,
            steps=steps,
            max_steps=self.config.train.steps,
            final=self.final,
            diverged_step=self.diverged_step,
            divergence_reason=self.reason,
            seed=self.config.train.seed,
            train_time_s=train_time_s,
            examples_per_s=examples / train_time_s if train_time_s > 0 else 0.0,
            curves=curves,
            device=device,
            num_params=num_params,
            wall_time_s=wall_time_s,
        )
