"""Every trial's curves in one figure: the sweep view, and any study's curves in full.

The method reads curves side by side: in a learning-rate sweep, every trial's training
loss and validation curve overlaid, coloured by the swept value on a log colour scale,
the diverged runs marked where they broke off, the chosen curve drawn bold; in any study,
all its trials' curves (the report folds these away by default). Long per-step curves are
thinned to at most ``MAX_POINTS`` points per trace (block means, so a spike still shows as
a bump) to keep the one-file report light.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from orchestrator.analysis.curve_series import eval_series, step_series
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.outcomes import fmt
from orchestrator.analysis.sweep import SweepChoice
from orchestrator.train.numbers import is_real

MAX_POINTS = 150  # per trace: the report stays light with dozens of trials
COLORSCALE = "Viridis"
_HEIGHT = 420


def thinned(steps: np.ndarray, values: np.ndarray) -> tuple[list[float], list[float]]:
    """At most ``MAX_POINTS`` points: means over equal blocks of consecutive steps."""
    if len(values) <= MAX_POINTS:
        return steps.tolist(), values.tolist()
    blocks = np.array_split(np.arange(len(values)), MAX_POINTS)
    return (
        [float(steps[b].mean()) for b in blocks],
        [float(values[b].mean()) for b in blocks],
    )


def _log_position(value: float, low: float, high: float) -> float:
    if value <= 0 or high <= low:
        return 0.5
    return min(max((math.log10(value) - low) / (high - low), 0.0), 1.0)


def _last_finite_loss(trial: TrialRecord) -> tuple[float, float] | None:
    steps, loss = step_series(trial.curves or {}, "train_loss")
    return (float(steps[-1]), float(loss[-1])) if len(loss) else None


def trial_curves_figure(
    study: StudyRecord,
    *,
    param: str | None = None,
    choice: SweepChoice | None = None,
    title: str | None = None,
) -> go.Figure:
    """Training loss and validation metric of every trial of ``study`` with curves.

    With ``param`` (a sweep), each trial is coloured by its value on a log colour scale with
    a colour bar, diverged trials are dashed and end in a red cross, and ``choice``'s trial
    is bold; without, each trial gets the colour of its rank (best first)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "validation"))
    trials = [t for t in study.trials if t.curves and t.state in ("complete", "infeasible")]
    values = [float(t.params[param]) for t in trials if param and _positive(t.params.get(param))]
    low, high = (math.log10(min(values)), math.log10(max(values))) if values else (0.0, 1.0)
    ranked = {t.number: i for i, t in enumerate(study.ranked())}
    drawn = 0
    for t in sorted(trials, key=lambda t: ranked.get(t.number, len(ranked))):
        value = t.params.get(param) if param else None
        if param and _positive(value):
            where = _log_position(value, low, high)
            color = sample_colorscale(COLORSCALE, [where])[0]
            name = f"{param}={fmt(float(value))}"
        else:
            rank = ranked.get(t.number)
            color = sample_colorscale(COLORSCALE, [min(rank or 0, 9) / 9])[0]
            name = f"trial {t.number}" + (f" (#{rank + 1})" if rank is not None else "")
        diverged = t.state == "infeasible"
        chosen = choice is not None and t.number == choice.trial
        line = {
            "color": color,
            "width": 4 if chosen else 1.5,
            "dash": "dash" if diverged else None,
        }
        style: dict[str, Any] = {
            "legendgroup": name,
            "line": line,
            "name": name + (" (chosen)" if chosen else ""),
        }
        steps, loss = step_series(t.curves or {}, "train_loss")
        xs, ys = thinned(steps, loss)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", **style), 1, 1)
        metric, e_steps, e_values = eval_series(t.curves or {}, study.metric)
        fig.add_trace(
            go.Scatter(
                x=e_steps.tolist(),
                y=e_values.tolist(),
                mode="lines+markers",
                showlegend=False,
                **style,
            ),
            1,
            2,
        )
        if diverged and (end := _last_finite_loss(t)) is not None:
            fig.add_trace(
                go.Scatter(
                    x=[end[0]],
                    y=[end[1]],
                    mode="markers",
                    showlegend=False,
                    marker={"symbol": "x", "size": 12, "color": "#c62828"},
                    name=f"{name} diverged",
                    legendgroup=name,
                ),
                1,
                1,
            )
        drawn += 1
    if not drawn:
        fig.add_annotation(
            text="no curves stored", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
        return fig
    if param and values:
        fig.add_trace(_colorbar(param, low, high))
        fig.update_layout(legend={"orientation": "h", "y": -0.25})  # clear of the colour bar
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(title=title or f"Every trial's curves: {study.name}", height=_HEIGHT + 100)
    return fig


def _positive(value: Any) -> TypeGuard[float]:
    return is_real(value) and value > 0


def _colorbar(param: str, low: float, high: float) -> go.Scatter:
    """An invisible trace whose colour bar is the log scale of the swept value."""
    ticks = list(range(math.floor(low), math.ceil(high) + 1))
    return go.Scatter(
        x=[None],
        y=[None],
        mode="markers",
        showlegend=False,
        hoverinfo="skip",
        marker={
            "colorscale": COLORSCALE,
            "cmin": low,
            "cmax": high,
            "color": [low],
            "showscale": True,
            "colorbar": {
                "title": f"log10 {param}",
                "tickvals": ticks,
                "ticktext": [fmt(10.0**k) for k in ticks],
            },
        },
    )
