"""What the study checks count, and how they write numbers, decided once for all of them.

Several checks ask the same questions of a study: which trials reached an outcome, and what
the complete trials' objective values are, best first. Answering them in one place keeps
the checks consistent with each other (the density warning and the infeasible fraction
count the same "finished" trials), and ``fmt`` keeps the numbers in every message alike.
"""

from __future__ import annotations

import math
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


def end_cluster(
    good: list[float], bad: list[float], n_bad: int, min_cluster: int
) -> tuple[int, str, float, float] | None:
    """The bad values beyond every good one, on the larger side: a region at one end of a
    range where every trial went wrong (diverged, or failed).

    Returns ``(count, side, first_bad, last_good)``: ``count`` bad values lie above the
    largest good value (``side == "high"``) or below the smallest, ``first_bad`` is the
    nearest of them and ``last_good`` the extreme good value. None when neither side holds
    at least ``max(min_cluster, half of the n_bad)``: one or two strays are no region.
    """
    if not good or not bad:
        return None
    above = [v for v in bad if v > max(good)]
    below = [v for v in bad if v < min(good)]
    needed = max(min_cluster, math.ceil(n_bad / 2))
    if len(above) >= len(below) and len(above) >= needed:
        return len(above), "high", min(above), max(good)
    if len(below) >= needed:
        return len(below), "low", max(below), min(good)
    return None
