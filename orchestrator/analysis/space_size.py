"""How many distinct points a study's search space holds, and how many it has tried.

A grid, a set of choices or an integer range holds finitely many configurations; a check
that asks for "about 7 more trials" on a grid of 23 values that were all tried asks for
trials that cannot be run (issue 25). Counted here, once: a grid param (``sampler: grid``)
holds its grid values, a categorical its choices, a stepped or integer range its steps; a
continuous range is unbounded (None). A param with several alternatives (``when``) holds
the union of theirs, so the count is at least the true one: an ask it caps is never cut
below what is left.
"""

from __future__ import annotations

import math
from typing import Any

from orchestrator.analysis.model import StudyRecord
from orchestrator.analysis.outcomes import finished_trials


def _range_values(spec: dict[str, Any]) -> int | None:
    """Values of a stepped or integer range; None for a continuous one."""
    low, high, step = spec.get("low"), spec.get("high"), spec.get("step")
    if not all(isinstance(x, int | float) for x in (low, high)):
        return None
    assert isinstance(low, int | float) and isinstance(high, int | float)
    if step:
        return int(math.floor((high - low) / step + 1e-9)) + 1
    if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
        return high - low + 1
    return None


def _param_values(study: StudyRecord, path: str, alternatives: list[dict[str, Any]]) -> int | None:
    if study.sampler == "grid" and study.grid.get(path):
        return len({repr(v) for v in study.grid[path]})
    total = 0
    for spec in alternatives:
        count = len(spec["choices"]) if "choices" in spec else _range_values(spec)
        if count is None:
            return None
        total += count
    return total


def space_points(study: StudyRecord) -> int | None:
    """The distinct configurations the study's space holds; None when it is unbounded, or
    empty (a study without nuisance params repeats its one configuration: more repeats are
    what more trials there are, and their number has no bound)."""
    if not study.search_space:
        return None
    total = 1
    for path, alternatives in study.search_space.items():
        count = _param_values(study, path, alternatives)
        if count is None:
            return None
        total *= count
    return total


def tried_points(study: StudyRecord) -> int:
    """The distinct configurations of the space among the finished (complete or
    infeasible) trials."""
    space = study.search_space
    return len(
        {
            repr(sorted((k, v) for k, v in t.params.items() if k in space))
            for t in finished_trials(study)
        }
    )


def points_left(study: StudyRecord) -> int | None:
    """Configurations of a finite space not yet tried (0: exhausted); None: unbounded."""
    points = space_points(study)
    return None if points is None else max(points - tried_points(study), 0)
