"""Whether a study's objective keeps improving toward the edge of a param's range.

The boundary check asks whether the optimum lies beyond a range's edge. Judging that from
the single best trial (is it within 10% of the edge?) wastes the other trials: at ten
trials over two params an optimum far beyond the edge was flagged in only 70-80% of
rounds, and a param the objective ignores was flagged in one round in five, because
with few trials the best one lands near some edge by chance. Here every complete trial
has its say:

- the objective's **ranks** (robust to a diverging-but-finite trial and to the metric's
  scale) are regressed on every numeric param's position in its own range (log10 for log
  ranges), additively, so the other params' effects are accounted for;
- the param's **linear trend** must be significant (two-sided ``p < boundary_p``), and
- an additive **quadratic** fit must put the param's optimum at or beyond that edge (its
  vertex within ``boundary_margin`` of the edge or outside the range, or no interior
  minimum at all), so a bowl whose bottom is inside the range, even off-centre, is not
  called an edge.

Measured on planted studies (``tests/analysis_tests/test_boundary_rates.py``, 200 seeds
with ``tests/analysis_tests/rates.py``): at ten trials over two params, recall 97.5-99% for
an optimum beyond either edge, false alarms 3% for an interior optimum and 0% for an
ignored param.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.search_space import active_spec, is_number, is_range, unit_position
from orchestrator.rounds.check_needs import boundary_trials


@dataclass(frozen=True)
class EdgeTrend:
    """The evidence for one param: which edge the objective improves toward, how surely."""

    path: str
    edge: str | None  # "low" | "high" | None (no edge: interior or no trend)
    p_value: float  # of the linear trend (two-sided)
    vertex: float | None  # the quadratic fit's optimum, in range units (None: none inside)
    trials: int  # complete trials the fit used
    best: TrialRecord | None = None  # the best of them


def _position(study: StudyRecord, path: str, params: dict[str, Any]) -> float | None:
    """A trial's position in ``path``'s active range, or None (absent, inactive, a choice)."""
    value = params.get(path)
    if not is_number(value):
        return None
    spec = active_spec(study, path, params)
    if spec is None or not is_range(spec):
        return None
    return unit_position(float(value), spec)


def range_paths(study: StudyRecord) -> list[str]:
    """The study's nuisance params with a numeric range among their alternatives."""
    return [p for p, alts in study.search_space.items() if any(is_range(a) for a in alts)]


def positions(
    study: StudyRecord, focus: str | None = None
) -> tuple[list[str], np.ndarray, np.ndarray, list[TrialRecord]] | None:
    """(paths, U, values, trials): the numeric range params' positions per complete trial
    with a finite value, their values, and the trials. With ``focus``, the trials where that
    param is active, and the other params active in every one of them (a conditional param,
    ``when: {optimizer.name: sgd}``, neither drops the other trials nor joins their fit);
    without, the trials where every such param is active. Params that do not vary among
    them are left out (a constant column says nothing and would alias the intercept)."""
    trials = [t for t in study.ranked() if t.value is not None and math.isfinite(float(t.value))]
    paths = range_paths(study)
    if focus is not None:
        trials = [t for t in trials if _position(study, focus, t.params) is not None]
    active = [p for p in paths if all(_position(study, p, t.params) is not None for t in trials)]
    if focus is None:
        trials = [
            t for t in trials if all(_position(study, p, t.params) is not None for p in paths)
        ]
        active = paths
    if not trials or not active:
        return None
    u = np.asarray([[_position(study, p, t.params) for p in active] for t in trials], dtype=float)
    varying = [j for j in range(u.shape[1]) if np.ptp(u[:, j]) > 1e-12]
    if not varying:
        return None
    values = np.asarray([float(t.value) for t in trials if t.value is not None])
    return [active[j] for j in varying], u[:, varying], values, trials


def trials_needed(params: int) -> int:
    """Complete trials the additive quadratic model over ``params`` params needs (the
    rule the round's default budget follows too: ``rounds/check_needs.py``)."""
    return boundary_trials(params)


def quadratic_design(u: np.ndarray) -> np.ndarray:
    """The additive quadratic model's columns: intercept, each position, each squared."""
    centred = u - 0.5
    return np.column_stack([np.ones(len(u)), centred, centred**2])


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Least squares: (coefficients, their covariance, residual degrees of freedom)."""
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    dof = len(y) - int(np.linalg.matrix_rank(x))
    residual = y - x @ beta
    scale = float(residual @ residual) / dof if dof > 0 else np.inf
    return beta, scale * np.linalg.pinv(x.T @ x), dof


def edge_trends(study: StudyRecord, margin: float) -> dict[str, EdgeTrend]:
    """Each numeric range param's :class:`EdgeTrend`, fitted on the trials where it is
    active; a param with too few such trials for the quadratic model (``trials_needed``)
    or no variation gets none."""
    out = {}
    for path in range_paths(study):
        trend = _trend(study, path, margin)
        if trend is not None:
            out[path] = trend
    return out


def _trend(study: StudyRecord, path: str, margin: float) -> EdgeTrend | None:
    found = positions(study, focus=path)
    if found is None or path not in found[0]:
        return None
    paths, u, values, trials = found
    ranks = stats.rankdata(-values if study.maximize else values)  # 1 = best
    n, d = u.shape
    if n < trials_needed(d):
        return None
    quadratic = quadratic_design(u)
    slope, slope_cov, slope_dof = _fit(quadratic[:, : 1 + d], ranks)  # the linear part
    curve, _, _ = _fit(quadratic, ranks)
    j = paths.index(path)
    se = float(np.sqrt(max(slope_cov[1 + j, 1 + j], 0.0)))
    b = float(slope[1 + j])
    p = float(2 * stats.t.sf(abs(b) / se, slope_dof)) if se > 0 and slope_dof > 0 else 1.0
    b1, b2 = float(curve[1 + j]), float(curve[1 + d + j])
    vertex = 0.5 - b1 / (2 * b2) if b2 > 0 else None  # ranks: lower is better
    edge = "high" if b < 0 else "low"  # the side the ranks improve toward
    beyond = vertex is None or (vertex >= 1 - margin if edge == "high" else vertex <= margin)
    return EdgeTrend(path, edge if beyond else None, p, vertex, n, trials[0])
