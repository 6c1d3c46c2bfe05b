"""The analysis data model: what the checks read (trial and study records) and write (findings).

Checks are pure functions from ``StudyRecord``s to ``Finding``s, so they are tested on
hand-built records with planted properties, without Optuna or training. ``load.py`` builds
the records from the store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("block", "warn", "info")  # most severe first


@dataclass(frozen=True)
class Finding:
    """One result of a check, for a person (``message``) and for a machine (``suggestion``)."""

    kind: str  # boundary | infeasible | density | overfitting | ... (see README)
    severity: str  # info | warn | block
    message: str  # one sentence a person understands, with the numbers
    study: str | None = None
    param: str | None = None
    suggestion: dict[str, Any] = field(default_factory=dict)  # e.g. {"high": 10.0}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def by_severity(findings: list[Finding]) -> list[Finding]:
    """Most severe first; stable within a severity."""
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the checks see it.

    ``state``: complete | infeasible | pruned | failed | running. ``value`` is the objective
    (None unless complete). ``curves`` is the trainer's ``Curves`` as a dict (``train_loss``,
    ``lr``, ``grad_norm`` per step; ``eval_step`` with ``val_loss`` and ``val_error``;
    ``update_ratio_step`` with ``update_ratio``) or None when not stored.
    """

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    best_step: int | None = None
    max_steps: int | None = None
    infeasible_reason: str | None = None
    curves: dict[str, Any] | None = None
    started: float | None = None  # POSIX seconds; for the round's timeline
    finished: float | None = None


@dataclass(frozen=True)
class StudyRecord:
    """One study of a round: its scientific point, search space and trials."""

    name: str
    point: dict[str, Any]
    direction: str  # minimize | maximize
    metric: str
    # path -> alternatives, each {low, high, log[, step]} or {choices}, maybe with "when"
    search_space: dict[str, list[dict[str, Any]]]
    trials: list[TrialRecord]

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    def complete(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.state == "complete"]

    def ranked(self) -> list[TrialRecord]:
        """Complete (feasible) trials, best first."""
        return sorted(self.complete(), key=lambda t: t.value, reverse=self.maximize)  # type: ignore[arg-type,return-value]


@dataclass
class AnalysisConfig:
    """Thresholds of the checks (``analysis:`` config group); every one has a default."""

    boundary_margin: float = 0.1  # fraction of the range (in its own scale) counted as "edge"
    boundary_top_k: int = 3  # how many best trials are checked against the edges
    infeasible_warn: float = 0.2  # infeasible fraction that warrants a warning
    infeasible_block: float = 0.8  # ... and one that suggests a bug (blocks promotion)
    good_region: float = (
        0.05  # "good" = within this fraction of the best-to-median gap of the best
    )
    min_good_trials: int = 3  # fewer good trials than this: under-sampled
    late_fraction: float = 0.25  # the "late" part of training for curve checks
    late_variance_warn: float = 0.1  # relative std of the late validation metric
    improving_tolerance: float = 0.01  # still improving: last eval beats the late ones by this
    saturation_fraction: float = 0.5  # best reached before this fraction: saturated early
    overfit_rise: float = 0.05  # rise of validation error from its best (points; loss: relative)
    grad_spike_factor: float = 5.0  # grad norm above this x its median is a spike
    step_budget_early: float = 0.10  # best step always in the first 10%: budget too large
    step_budget_late: float = 0.25  # ... always in the last 25%: a longer budget may help
    importance_negligible: float = 0.05  # importance below this: suggest fixing the param
