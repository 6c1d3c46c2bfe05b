"""The analysis data model: what the checks read (trial and study records) and write (findings).

Checks are pure functions from ``StudyRecord``s to ``Finding``s, so they are tested on
hand-built records with planted properties, without Optuna or training. ``load.py`` builds
the records from the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from orchestrator.store.record import Direction, TrialOutcome


class Curves(TypedDict, total=False):
    """A trial's stored curves: the trainer's ``Curves`` as plain data (any key may be
    missing: an own trainer reports what it has). Per-step curves are indexed from step 1;
    an evaluation curve is aligned with ``eval_step``; ``None`` where a step diverged."""

    train_loss: list[float | None]
    lr: list[float | None]
    grad_norm: list[float | None]
    eval_step: list[int]
    val_loss: list[float | None]
    val_error: list[float | None]
    update_ratio_step: list[int]
    update_ratio: list[float | None]
    metrics: dict[str, list[float | None]]  # the objective's own curves an own trainer reported


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the checks see it.

    ``state``: complete | infeasible | pruned | failed | running. ``value`` is the objective
    (None unless complete). ``curves`` is the trainer's ``Curves`` as a dict (``train_loss``,
    ``lr``, ``grad_norm`` per step; ``eval_step`` with ``val_loss`` and ``val_error``;
    ``update_ratio_step`` with ``update_ratio``) or None when not stored.
    """

    number: int
    state: TrialOutcome
    value: float | None
    params: dict[str, Any]
    best_step: int | None = None
    max_steps: int | None = None
    infeasible_reason: str | None = None
    curves: Curves | None = None
    started: float | None = None  # POSIX seconds; for the round's timeline
    finished: float | None = None
    steps: int | None = None  # how far it trained (a pruned trial: where it was stopped)
    carried: bool = False  # copied in from an earlier round (work/carry.py): not this round's
    error: str | None = None  # failed: why (``TYPE: message``, or the worker's fault)
    # What the trial reported at each step (Optuna's intermediate values): where a pruned
    # trial stood before it was cut.
    intermediate: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyRecord:
    """One study of a round: its scientific point, search space and trials."""

    name: str
    point: dict[str, Any]
    direction: Direction | str  # minimize | maximize (the plain strings compare equal)
    metric: str
    # path -> alternatives, each {low, high, log[, step]} or {choices}, maybe with "when"
    search_space: dict[str, list[dict[str, Any]]]
    trials: list[TrialRecord]
    sampler: str = "qmc"  # budget.sampler (provenance)
    pruner: str = "none"  # budget.pruner (absent in stores of earlier versions: none)
    val_examples: int | None = None  # validation set size (the metric's sampling noise)
    stopped: str | None = None  # racing stopped it at half its budget: why (None: it ran all)
    # budget.grid of a grid round: the values each param could take (absent in earlier stores)
    grid: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def maximize(self) -> bool:
        return Direction.of(self.direction).maximize

    def complete(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.state == "complete"]

    def ranked(self) -> list[TrialRecord]:
        """Complete (feasible) trials, best first."""
        return sorted(self.complete(), key=_value, reverse=self.maximize)


def _value(trial: TrialRecord) -> float:
    assert trial.value is not None  # complete trials have one
    return trial.value
