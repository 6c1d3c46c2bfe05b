"""The round report's figures (PLAYBOOK.md 4): plotly drawings of ``figure_info``'s records.

Why pure: the figures are what a person reads to judge a round, so each is tested on
hand-built :class:`StudyRecord`s with planted properties (an optimum at an edge, infeasible
trials), without Optuna, training or files; ``round_report.py`` puts them on one page. What
a figure shows is computed first (``figure_info``, tested without plotly); the functions
here only draw it.

Vertical lines (range edges) are drawn as traces rather than layout shapes: data coordinates
of traces are unambiguous on log axes, and tests can find them by name.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from orchestrator.analysis.model import StudyRecord
from orchestrator.report.figure_info import (
    STATE_COLORS,
    AxisInfo,
    Points,
    axis_info,
    best_curves_info,
    decision_info,
    importance_info,
    isolation_info,
    study_label,
    timeline_info,
)

__all__ = [
    "STATE_COLORS",
    "axis_plot",
    "best_curves",
    "decision_figure",
    "importance_plot",
    "isolation_plot",
    "study_label",
    "timeline",
]

_HEIGHT = 380


def _note(fig: go.Figure, text: str) -> go.Figure:
    """An empty figure says why it is empty instead of showing blank axes."""
    fig.add_annotation(
        text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font_size=16
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


# --------------------------------------------------------------------------- axis plot


def axis_plot(study: StudyRecord, param: str) -> go.Figure:
    """Objective vs one nuisance param: the playbook's basic hyperparameter axis plot.

    Complete trials are markers, the best one a green star; infeasible trials (no objective)
    are red crosses along the top of the y-range, so a region that cannot train shows up;
    pruned trials (stopped early, no final value) are orange triangles there too.
    The active range's edges are dashed vertical lines: best trials crowding an edge mean
    the range is too small. Log ranges get a log x-axis; categorical params one x per choice.
    """
    return _axis_figure(axis_info(study, param))


def _axis_figure(info: AxisInfo) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(_markers("complete", info.complete, STATE_COLORS["complete"]))
    if info.best_trial is not None:
        best = go.Scatter(
            x=info.best.x,
            y=info.best.y,
            mode="markers",
            name=f"best (trial {info.best_trial})",
            marker={"symbol": "star", "size": 16, "color": "green"},
            hovertext=info.best.hover,
            hoverinfo="text",
        )
        fig.add_trace(best)
    for name, points, color, symbol, size in (
        ("infeasible", info.infeasible, "red", "x", 11),
        ("pruned", info.pruned, STATE_COLORS["pruned"], "triangle-down", 10),
    ):
        if points.x:
            marks = _markers(name, points, color)
            marks.marker.symbol = symbol
            marks.marker.size = size
            fig.add_trace(marks)
    bottom, top = info.y_span
    for edge, at in info.edges:
        fig.add_trace(_edge_line(edge, at, bottom, top))
    if info.x_type is not None:
        fig.update_xaxes(type=info.x_type)
    fig.update_layout(
        title=info.title,
        xaxis_title=info.param,
        yaxis_title=info.metric,
        height=_HEIGHT,
        margin={"t": 50, "b": 40},
    )
    return fig


def _markers(name: str, points: Points, color: str) -> go.Scatter:
    return go.Scatter(
        x=points.x,
        y=points.y,
        mode="markers",
        name=name,
        marker={"color": color, "size": 9},
        hovertext=points.hover,
        hoverinfo="text",
    )


def _edge_line(edge: str, at: float, bottom: float, top: float) -> go.Scatter:
    return go.Scatter(
        x=[at, at],
        y=[bottom, top],
        mode="lines",
        name=f"range {edge} ({at:.3g})",
        line={"color": "grey", "dash": "dash", "width": 1.5},
        hoverinfo="name",
    )


# --------------------------------------------------------------------------- isolation


def isolation_plot(studies: list[StudyRecord], *, top_k: int = 3) -> go.Figure:
    """Best objective per scientific value, with its near-best spread.

    The playbook's isolation view: each scientific value at its best nuisance setting. The
    top ``top_k`` values of every study are drawn as small grey points beside the best, so
    the reader sees whether the gap between values is larger than the tuning noise.
    """
    fig = go.Figure()
    info = isolation_info(studies, top_k)
    if info is None:
        return _note(fig, "no complete trials")
    fig.add_trace(
        go.Scatter(
            x=info.spread_x,
            y=info.spread_y,
            mode="markers",
            name=f"top {info.top_k}",
            marker={"color": "grey", "size": 8, "opacity": 0.7},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=info.labels,
            y=info.best,
            mode="markers+text",
            name="best",
            marker={"color": "green", "size": 14, "symbol": "diamond"},
            text=[f"{value:.4g}" for value in info.best],
            textposition="middle right",
        )
    )
    fig.update_xaxes(type="category")
    fig.update_layout(
        title=f"Isolation view: best {info.metric} per scientific value (grey: top {top_k})",
        yaxis_title=info.metric,
        height=_HEIGHT,
    )
    return fig


# --------------------------------------------------------------------------- curves


def best_curves(studies: list[StudyRecord]) -> go.Figure:
    """Training loss and validation error of each study's best trial, one colour per study.

    Where the best trials' curves show overfitting, late noise or a still-falling loss (the
    playbook's curve checks), the reader should see it next to the findings.
    """
    curves = best_curves_info(studies)
    if not curves:
        return _note(go.Figure(), "no curves stored")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "validation error"))
    for c in curves:
        style = {"name": c.name, "legendgroup": c.name, "line": {"color": c.color}}
        steps = list(range(1, len(c.loss) + 1))
        fig.add_trace(go.Scatter(x=steps, y=c.loss, mode="lines", **style), 1, 1)
        val = go.Scatter(
            x=c.eval_step, y=c.val_error, mode="lines+markers", showlegend=False, **style
        )
        fig.add_trace(val, 1, 2)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(type="log", row=1, col=1)  # the first steps' loss would squash the rest
    fig.update_layout(title="Curves of each study's best trial", height=_HEIGHT + 40)
    return fig


# --------------------------------------------------------------------------- importance


def importance_plot(studies: list[StudyRecord], *, min_trials: int = 10) -> go.Figure:
    """Normalised nuisance-param importance per study (PED-ANOVA), as horizontal bars.

    A param with near-zero importance everywhere can be fixed next round; studies with too
    few complete trials (fewer than ``min_trials``) are left out, as the check leaves them.
    """
    fig = go.Figure()
    bars = importance_info(studies, min_trials)
    if not bars:
        return _note(fig, f"too few trials for importance (fewer than {min_trials} complete)")
    for b in bars:
        fig.add_trace(
            go.Bar(x=b.scores, y=b.params, orientation="h", name=b.name, marker_color=b.color)
        )
    fig.update_layout(
        title="Nuisance-param importance (normalised per study)",
        barmode="group",
        xaxis_title="importance",
        xaxis_range=[0, 1],
        height=max(_HEIGHT - 80, 80 + 40 * len(bars) * len(bars[0].params)),
    )
    return fig


# --------------------------------------------------------------------------- timeline


def timeline(studies: list[StudyRecord]) -> go.Figure:
    """One bar per trial from its start to its end, coloured by state, one row per study.

    Shows where the round's time went: long infeasible trials, idle gaps, parallel workers.
    Times are seconds since the round's first trial started; trials without both times
    (still running, never started) are left out.
    """
    fig = go.Figure()
    groups = timeline_info(studies)
    if not groups:
        return _note(fig, "no trial times stored")
    for g in groups:
        fig.add_trace(
            go.Bar(
                y=g.studies,
                x=g.length,
                base=g.base,
                orientation="h",
                name=g.state,
                marker={"color": g.color, "line": {"color": "white", "width": 1}},
                hovertext=g.hover,
                hoverinfo="text",
            )
        )
    fig.update_layout(
        title="Trial timeline",
        barmode="overlay",
        xaxis_title="seconds since the first trial started",
        yaxis={"type": "category", "autorange": "reversed"},
        height=max(_HEIGHT - 120, 120 + 40 * len(studies)),
    )
    return fig


# --------------------------------------------------------------------------- decision


def decision_figure(decision: dict[str, Any]) -> go.Figure:
    """Candidate vs incumbent per training seed, one paired line per seed.

    The promotion rule is paired (same seed for both), so the pairs, not the two means,
    are what it judges: lines that all slope the same way are a consistent improvement.
    """
    info = decision_info(decision)
    fig = go.Figure()
    if not info.pairs:
        return _note(fig, "no seed values recorded")
    for pair in info.pairs:
        fig.add_trace(
            go.Scatter(
                x=["incumbent", "candidate"],
                y=[pair.incumbent, pair.candidate],
                mode="lines+markers",
                name=pair.name,
                line={"color": pair.color},
            )
        )
    fig.update_layout(title=info.title, yaxis_title="objective per seed", height=_HEIGHT)
    return fig
