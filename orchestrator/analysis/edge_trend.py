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

Measured on planted studies (``tests/analysis_tests/test_boundary_rates.py``): at ten
trials over two params, recall 99% for an optimum beyond either edge, false alarms 2-3%
for an interior optimum and for an ignored param.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from orchestrator.analysis.model import StudyRecord
from orchestrator.analysis.search_space import active_spec, is_number, is_range, unit_position

MIN_RESIDUAL_DOF = 2  # trials beyond the quadratic model's coefficients: less is a guess


@dataclass(frozen=True)
class EdgeTrend:
    """The evidence for one param: which edge the objective improves toward, how surely."""

    path: str
    edge: str | None  # "low" | "high" | None (no edge: interior or no trend)
    p_value: float  # of the linear trend (two-sided)
    vertex: float | None  # the quadratic fit's optimum, in range units (None: none inside)
    trials: int  # complete trials the fit used


def positions(study: StudyRecord) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """(paths, U, values): every numeric range param's position per complete trial, and the
    trials' objective values. Only trials that have every such param take part.
    """
    ranked = study.ranked()
    paths = [
        path
        for path in study.search_space
        if any(is_range(spec) for spec in study.search_space[path])
    ]
    rows, values = [], []
    for trial in ranked:
        row = []
        for path in paths:
            value = trial.params.get(path)
            if not is_number(value):
                break
            spec = active_spec(study, path, trial.params)
            if spec is None or not is_range(spec):
                break
            row.append(unit_position(float(value), spec))
        else:
            rows.append(row)
            values.append(float(trial.value) if trial.value is not None else np.nan)
    if not paths or not rows:
        return None
    return paths, np.asarray(rows, dtype=float), np.asarray(values)


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Least squares: (coefficients, their covariance, residual degrees of freedom)."""
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    dof = len(y) - x.shape[1]
    residual = y - x @ beta
    scale = float(residual @ residual) / dof if dof > 0 else np.inf
    return beta, scale * np.linalg.pinv(x.T @ x), dof


def edge_trends(study: StudyRecord, margin: float) -> dict[str, EdgeTrend]:
    """Each numeric range param's :class:`EdgeTrend`; empty when the study has too few
    complete trials for the quadratic model (``1 + 2 x params + MIN_RESIDUAL_DOF``)."""
    found = positions(study)
    if found is None:
        return {}
    paths, u, values = found
    ranks = stats.rankdata(-values if study.maximize else values)  # 1 = best
    n, d = u.shape
    if n < 1 + 2 * d + MIN_RESIDUAL_DOF:
        return {}
    centred = u - 0.5
    linear = np.column_stack([np.ones(n), centred])
    quadratic = np.column_stack([np.ones(n), centred, centred**2])
    slope, slope_cov, slope_dof = _fit(linear, ranks)
    curve, _, _ = _fit(quadratic, ranks)
    out = {}
    for j, path in enumerate(paths):
        se = float(np.sqrt(slope_cov[1 + j, 1 + j]))
        b = float(slope[1 + j])
        p = float(2 * stats.t.sf(abs(b) / se, slope_dof)) if se > 0 else 1.0
        b1, b2 = float(curve[1 + j]), float(curve[1 + d + j])
        vertex = 0.5 - b1 / (2 * b2) if b2 > 0 else None  # ranks: lower is better
        edge = "high" if b < 0 else "low"  # the side the ranks improve toward
        beyond = vertex is None or (vertex >= 1 - margin if edge == "high" else vertex <= margin)
        out[path] = EdgeTrend(path, edge if beyond else None, p, vertex, n)
    return out
