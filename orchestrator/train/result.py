"""What a training run returns: the objective, the outcome, and the curves behind them.

This is the trainer contract. Any trainer (``trainer._target_``) returns a ``TrainResult``
or a mapping with the same keys (``TrainResult.from_dict`` checks it), so the rounds,
analysis and promotion stages never depend on which function trained the model.

Steps are counted from 1: step k is the k-th optimizer update. Per-step curves are lists
indexed by k - 1; sparse curves carry their own step lists. Non-finite values in curves
become ``None`` so the result is valid JSON.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from orchestrator.exceptions import TrainerContractError

Status = Literal["completed", "diverged", "stopped"]
STATUSES = ("completed", "diverged", "stopped")


@dataclass
class Curves:
    """Training curves: per step (loss, lr, grad norm) and per evaluation (validation)."""

    train_loss: list[float | None] = field(default_factory=list)  # per step
    lr: list[float] = field(default_factory=list)  # per step
    grad_norm: list[float | None] = field(default_factory=list)  # per step, before clipping
    update_ratio_step: list[int] = field(default_factory=list)
    update_ratio: list[float | None] = field(default_factory=list)  # |delta w| / |w|
    eval_step: list[int] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    val_error: list[float | None] = field(default_factory=list)
    # Any other metric a trainer reported (``report(step, val_f1=...)``), aligned with eval_step.
    metrics: dict[str, list[float | None]] = field(default_factory=dict)


@dataclass
class TrainResult:
    """The outcome of one training run.

    ``objective`` is the best value of ``metric`` over the evaluations and ``best_step``
    where it was reached; both are ``None`` when the run ``diverged`` (never NaN or inf).
    ``status`` is ``completed``, ``diverged`` (see ``diverged_step`` and
    ``divergence_reason``) or ``stopped`` (the evaluation callback asked to stop early).
    """

    status: Status
    objective: float | None
    best_step: int | None
    metric: str
    direction: str
    steps: int  # updates actually run
    max_steps: int  # the step budget
    final: dict[str, float] = field(default_factory=dict)  # metrics at the last evaluation
    diverged_step: int | None = None
    divergence_reason: str | None = None
    seed: int | None = None
    device: str = "cpu"
    num_params: int = 0
    wall_time_s: float = 0.0  # the whole call: data, model, training, evaluation
    train_time_s: float = 0.0  # optimizer steps only
    examples_per_s: float = 0.0  # training examples per second of train_time_s
    curves: Curves = field(default_factory=Curves)

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    def summary(self) -> str:
        """One line for a terminal: the objective, final metrics and best step, or why not."""
        if self.diverged:
            return f"diverged at step {self.diverged_step}: {self.divergence_reason}"
        parts = [f"{k}={v:.4g}" for k, v in self.final.items() if k in _SUMMARY_KEYS]
        parts.append(f"best_{self.metric}={self.objective:.4g}")
        parts.append(f"best_step={self.best_step}")
        if self.status == "stopped":
            parts.append(f"stopped_at={self.steps}/{self.max_steps}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (non-finite curve values are ``None``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainResult:
        """Check a user trainer's returned mapping against the contract and build a result.

        Raises ``TrainerContractError`` naming the offending key, so a plugged-in trainer that
        breaks the contract fails loudly rather than storing a meaningless objective.
        """
        raw = dict(raw)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise TrainerContractError(
                f"trainer result has unknown keys {unknown}; valid: {sorted(names)}"
            )
        missing = [
            k
            for k in (
                "status",
                "objective",
                "best_step",
                "metric",
                "direction",
                "steps",
                "max_steps",
            )
            if k not in raw
        ]
        if missing:
            raise TrainerContractError(f"trainer result is missing required keys {missing}")
        if raw["status"] not in STATUSES:
            raise TrainerContractError(
                f"trainer result status must be one of {STATUSES}; got {raw['status']!r}"
            )
        objective = raw["objective"]
        if raw["status"] == "diverged":
            if objective is not None:
                raise TrainerContractError(
                    "trainer result: a diverged run must have objective None"
                )
        elif objective is None or not math.isfinite(float(objective)):
            raise TrainerContractError(
                f"trainer result objective must be a finite number unless status is "
                f"'diverged'; got {objective!r}"
            )
        curves = raw.pop("curves", None) or {}
        result = cls(**raw, curves=curves if isinstance(curves, Curves) else Curves(**curves))
        return result


def as_train_result(returned: Any) -> TrainResult:
    """Accept a trainer's ``TrainResult`` or a mapping of the same shape (the contract)."""
    if isinstance(returned, TrainResult):
        return returned
    if isinstance(returned, dict):
        return TrainResult.from_dict(returned)
    raise TrainerContractError(
        f"the trainer returned {type(returned).__name__}; it must return a TrainResult or a "
        "dict with the same keys (docs/trainer-contract.md)"
    )


_SUMMARY_KEYS = ("val_error", "val_loss", "val_accuracy")


def finite_or_none(value: float) -> float | None:
    """``value`` when finite, else ``None`` (JSON has no NaN)."""
    return value if math.isfinite(value) else None
