"""What each round-report figure shows, computed from the records before anything is drawn.

Why apart from the drawing (``figures.py``), as Optuna's ``_get_*_info`` then ``_get_*_plot``:
which trial is marked best, where the infeasible crosses stand, what the y-range and the
range edges are, are the judgements a reader relies on; here they are plain frozen records,
tested on planted :class:`StudyRecord`s without plotly. ``None`` means nothing to draw (the
figure then says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plotly.colors import qualitative

from orchestrator.analysis.importance import param_importances
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.search_space import active_spec
from orchestrator.train.numbers import is_real

STATE_COLORS = {
    "complete": "#1f77b4",
    "infeasible": "red",
    "pruned": "orange",
    "failed": "black",
    "running": "grey",
}
_PALETTE: list[str] = qualitative.Plotly


def study_label(study: StudyRecord) -> str:
    """The scientific point (``model.depth=2``), or the study name for a round without one."""
    if not study.point:
        return study.name
    return ",".join(f"{path}={value}" for path, value in study.point.items())


def color(i: int) -> str:
    """One colour per study, the same in every figure that draws several studies."""
    return _PALETTE[i % len(_PALETTE)]


def hover(t: TrialRecord) -> str:
    """A trial's number, value (or state), params and why it is infeasible, for its marker."""
    params = "<br>".join(
        f"{k} = {v:.4g}" if is_real(v) else f"{k} = {v}" for k, v in t.params.items()
    )
    value = f"{t.value:.4g}" if t.value is not None else t.state
    extra = f"<br>{t.infeasible_reason}" if t.infeasible_reason else ""
    return f"trial {t.number}: {value}<br>{params}{extra}"


# --------------------------------------------------------------------------- axis plot


@dataclass(frozen=True)
class Points:
    """Markers of one kind: where they stand and what hovering over each says."""

    x: tuple[Any, ...]
    y: tuple[float, ...]
    hover: tuple[str, ...]


@dataclass(frozen=True)
class AxisInfo:
    """Objective vs one param: the markers by kind, the range edges and the axis types."""

    title: str
    param: str
    metric: str
    complete: Points
    best: Points  # the best complete trial alone (empty without one)
    best_trial: int | None
    infeasible: Points  # at the top of the y-range: they have no objective
    pruned: Points  # likewise
    edges: tuple[tuple[str, float], ...]  # ("low", 0.01), ("high", 3.0): dashed lines
    y_span: tuple[float, float]  # bottom, top
    x_type: str | None  # "log", "category" or None (linear)


def axis_info(study: StudyRecord, param: str) -> AxisInfo:
    """The axis plot's data: see ``figures.axis_plot`` for what a reader takes from it."""
    complete = [t for t in study.ranked() if param in t.params]
    infeasible = [t for t in study.trials if t.state == "infeasible" and param in t.params]
    pruned = [t for t in study.trials if t.state == "pruned" and param in t.params]
    spec = _axis_spec(study, param, complete or infeasible)
    categorical = spec is not None and "choices" in spec
    values = [_objective(t) for t in complete]
    bottom, top = _y_span(values)

    def points(trials: list[TrialRecord], ys: list[float]) -> Points:
        xs = (str(t.params[param]) if categorical else t.params[param] for t in trials)
        return Points(tuple(xs), tuple(ys), tuple(hover(t) for t in trials))

    ranged = spec if spec is not None and not categorical else {}
    return AxisInfo(
        title=f"{study_label(study)}: {study.metric} vs {param}",
        param=param,
        metric=study.metric,
        complete=points(complete, values),
        best=points(complete[:1], values[:1]),
        best_trial=complete[0].number if complete else None,
        infeasible=points(infeasible, [top] * len(infeasible)),
        pruned=points(pruned, [top] * len(pruned)),
        edges=tuple((e, ranged[e]) for e in ("low", "high")) if "low" in ranged else (),
        y_span=(bottom, top),
        x_type="category" if categorical else "log" if ranged.get("log") else None,
    )


def _objective(t: TrialRecord) -> float:
    """A complete trial's objective value."""
    assert t.value is not None  # ranked() holds complete trials only, and they have a value
    return float(t.value)


def _axis_spec(study: StudyRecord, param: str, trials: list[TrialRecord]) -> dict[str, Any] | None:
    """The search-space alternative that applied to the best trial (or the first one)."""
    params = trials[0].params if trials else {}
    spec = active_spec(study, param, params)
    if spec is None and study.search_space.get(param):
        spec = study.search_space[param][0]
    return spec


def _y_span(values: list[float]) -> tuple[float, float]:
    """Bottom and top of the data's y-range, the top a little above the worst value."""
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = 0.08 * (high - low) if high > low else 0.1 * max(abs(high), 1e-3)
    return low - pad, high + pad


# --------------------------------------------------------------------------- isolation


@dataclass(frozen=True)
class IsolationInfo:
    """Each scientific value's best objective and its studies' top ``top_k`` beside it."""

    metric: str
    top_k: int
    spread_x: tuple[str, ...]
    spread_y: tuple[float | None, ...]
    labels: tuple[str, ...]
    best: tuple[float | None, ...]


def isolation_info(studies: list[StudyRecord], top_k: int) -> IsolationInfo | None:
    """``None`` when no study has a complete trial."""
    rows = [(study_label(s), s.ranked()) for s in studies if s.ranked()]
    if not rows:
        return None
    return IsolationInfo(
        metric=studies[0].metric,
        top_k=top_k,
        spread_x=tuple(label for label, ranked in rows for _ in ranked[:top_k]),
        spread_y=tuple(t.value for _, ranked in rows for t in ranked[:top_k]),
        labels=tuple(label for label, _ in rows),
        best=tuple(ranked[0].value for _, ranked in rows),
    )


# --------------------------------------------------------------------------- curves


@dataclass(frozen=True)
class BestCurve:
    """One study's best trial: its training loss per step and validation error per eval."""

    name: str
    color: str
    loss: tuple[float | None, ...]  # None: a step without a finite value
    eval_step: tuple[float, ...]
    val_error: tuple[float | None, ...]


def best_curves_info(studies: list[StudyRecord]) -> tuple[BestCurve, ...]:
    """The studies whose best trial has curves, each in its study's colour."""
    drawn = []
    for i, study in enumerate(studies):
        ranked = study.ranked()
        if not ranked or not ranked[0].curves:
            continue
        best, c = ranked[0], ranked[0].curves
        drawn.append(
            BestCurve(
                name=f"{study_label(study)} (trial {best.number})",
                color=color(i),
                loss=tuple(c.get("train_loss") or []),
                eval_step=tuple(c.get("eval_step") or []),
                val_error=tuple(c.get("val_error") or []),
            )
        )
    return tuple(drawn)


# --------------------------------------------------------------------------- importance


@dataclass(frozen=True)
class ImportanceBars:
    """One study's normalised importances, params in name order."""

    name: str
    color: str
    params: tuple[str, ...]
    scores: tuple[float, ...]


def importance_info(studies: list[StudyRecord], min_trials: int) -> tuple[ImportanceBars, ...]:
    """The studies with enough complete trials for an importance (PED-ANOVA) each."""
    bars = []
    for i, study in enumerate(studies):
        scores = param_importances(study, min_trials=min_trials)
        if scores:
            params = sorted(scores)
            bars.append(
                ImportanceBars(
                    study_label(study), color(i), tuple(params), tuple(scores[p] for p in params)
                )
            )
    return tuple(bars)


# --------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class TimelineBars:
    """The trials of one state: a bar each, from its start to its end (seconds since t0)."""

    state: str
    color: str
    studies: tuple[str, ...]
    base: tuple[float, ...]
    length: tuple[float, ...]
    hover: tuple[str, ...]


def timeline_info(studies: list[StudyRecord]) -> tuple[TimelineBars, ...]:
    """Timed trials grouped by state in ``STATE_COLORS``'s order; t0 is the first start."""
    timed = [
        (s, t, t.started, t.finished)
        for s in studies
        for t in s.trials
        if t.started and t.finished
    ]
    if not timed:
        return ()
    t0 = min(start for _, _, start, _ in timed)
    groups = []
    for state, colour in STATE_COLORS.items():
        rows = [row for row in timed if row[1].state == state]
        if rows:
            groups.append(
                TimelineBars(
                    state=state,
                    color=colour,
                    studies=tuple(study_label(s) for s, _, _, _ in rows),
                    base=tuple(start - t0 for _, _, start, _ in rows),
                    length=tuple(end - start for _, _, start, end in rows),
                    hover=tuple(
                        f"trial {t.number} ({state}): {end - start:.1f} s"
                        for _, t, start, end in rows
                    ),
                )
            )
    return tuple(groups)


# --------------------------------------------------------------------------- decision


@dataclass(frozen=True)
class SeedPair:
    """One training seed's incumbent and candidate values."""

    name: str
    color: str
    incumbent: float
    candidate: float


@dataclass(frozen=True)
class DecisionInfo:
    """The seed pairs and a title with the verdict (and the effect and its CI when known)."""

    title: str
    pairs: tuple[SeedPair, ...]


def decision_info(decision: dict[str, Any]) -> DecisionInfo:
    """No pairs when the decision recorded no seed values."""
    seeds = decision.get("seeds") or []
    cand = decision.get("candidate_values") or []
    inc = decision.get("incumbent_values") or []
    pairs = tuple(
        SeedPair(f"seed {seed}", color(i), b, c)
        for i, (seed, c, b) in enumerate(zip(seeds, cand, inc, strict=False))
    )
    title = f"Promotion: {decision.get('verdict', '?')}"
    effect, low, high = (decision.get(k) for k in ("effect", "ci_low", "ci_high"))
    if all(is_real(v) for v in (effect, low, high)):
        title += f" (effect {effect:.4g}, CI [{low:.4g}, {high:.4g}])"
    return DecisionInfo(title, pairs)
