"""What the study checks count, and how they write numbers, decided once for all of them.

Several checks ask the same questions of a study: which trials reached an outcome, and what
the complete trials' objective values are, best first. Answering them in one place keeps
the checks consistent with each other (the density warning and the infeasible fraction
count the same "finished" trials), and ``fmt`` keeps the numbers in every message alike.
"""

from __future__ import annotations

from typing import Any

from orchestrator.analysis.model import StudyRecord, TrialRecord

_FINISHED = ("complete", "infeasible")


def fmt(value: Any) -> str:
    """Numbers with three significant digits (``0.000123``, ``1e-05``); anything else as is."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def finished_trials(study: StudyRecord) -> list[TrialRecord]:
    """Trials that ran to an outcome: complete (feasible) or infeasible.

    Pruned, failed and running trials are left out: they say nothing about the search space.
    """
    return [t for t in study.trials if t.state in _FINISHED]


def objective_values(study: StudyRecord) -> list[float]:
    """Objective values of the complete trials, best first."""
    return [float(t.value) for t in study.ranked() if t.value is not None]
