"""The shape every curve check shares, written once: a check is a row of a table
(``CurveCheck(kind, severity, rule)``), its rule a function of one ``CurveView``.

A curve check reads one trial's stored curves and says what it saw, or nothing. What is
the same for all of them lives here: a trial without curves gets no finding; the finding
is about the study's trial, not one param (``param`` None); its message starts with the
trial's number; every rule is given the same view (the trial, its curves, the thresholds,
the metric to read and the validation set's size), so no rule repeats a signature. A
check's own module then holds only its rule (``curve_checks.py``: the validation metric's
evaluations; ``step_checks.py``: the per-step signals).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.analysis.model import Curves, TrialRecord
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.findings import Finding, Kind, Severity

Seen = tuple[str, dict[str, Any]]  # the message (after "trial N: ") and the suggestion


@dataclass(frozen=True)
class CurveView:
    """What a rule reads: one trial's curves, with what it needs to judge them."""

    trial: TrialRecord
    curves: Curves
    cfg: AnalysisConfig
    metric: str = "val_error"  # the validation curve to read (the study's objective)
    examples: int | None = None  # the validation set's size, when known (sampling noise)


Rule = Callable[[CurveView], Seen | None]


@dataclass(frozen=True)
class CurveCheck:
    """A curve check: ``(trial, study, cfg, metric=, examples=) -> list[Finding]``, from
    its rule, kind and severity."""

    kind: Kind
    severity: Severity
    rule: Rule

    @property
    def __name__(self) -> str:
        """The check's name, its kind's (a check reads as the function it replaces)."""
        return str(self.kind)

    def __call__(
        self,
        trial: TrialRecord,
        study: str,
        cfg: AnalysisConfig,
        *,
        metric: str = "val_error",
        examples: int | None = None,
    ) -> list[Finding]:
        if not trial.curves:
            return []
        seen = self.rule(CurveView(trial, trial.curves, cfg, metric, examples))
        if seen is None:
            return []
        message, suggestion = seen
        return [
            Finding(
                kind=self.kind,
                severity=self.severity,
                message=f"trial {trial.number}: {message}",
                study=study,
                param=None,
                suggestion=suggestion,
            )
        ]
