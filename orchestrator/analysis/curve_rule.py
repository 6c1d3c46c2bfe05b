"""The shape every curve check shares, written once (``curve_check``).

A curve check reads one trial's stored curves and says what it saw, or nothing. What is
the same for all of them lives here: a trial without curves gets no finding; the finding
is about the study's trial, not one param (``param`` None); its message starts with the
trial's number. A check's own module then holds only its rule (``curve_checks.py``: the
validation metric's evaluations; ``step_checks.py``: the per-step signals).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from orchestrator.analysis.model import TrialRecord
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.findings import Finding

P = ParamSpec("P")
Seen = tuple[str, dict[str, Any]]  # the message (after "trial N: ") and the suggestion
Rule = Callable[Concatenate[TrialRecord, dict[str, Any], AnalysisConfig, P], Seen | None]
Check = Callable[Concatenate[TrialRecord, str, AnalysisConfig, P], list[Finding]]


def curve_check(kind: str, severity: str) -> Callable[[Rule[P]], Check[P]]:
    """Turn a rule ``(trial, curves, cfg, **options) -> (message, suggestion) | None`` into
    the check ``(trial, study, cfg, **options) -> list[Finding]``."""

    def wrap(rule: Rule[P]) -> Check[P]:
        @functools.wraps(rule)
        def check(
            trial: TrialRecord, study: str, cfg: AnalysisConfig, *args: P.args, **kw: P.kwargs
        ) -> list[Finding]:
            seen = rule(trial, trial.curves, cfg, *args, **kw) if trial.curves else None
            if seen is None:
                return []
            message, suggestion = seen
            finding = Finding(
                kind=kind,
                severity=severity,
                message=f"trial {trial.number}: {message}",
                study=study,
                param=None,
                suggestion=suggestion,
            )
            return [finding]

        return check

    return wrap
