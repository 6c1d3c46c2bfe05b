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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class TrialCurve:
    """One trial's two curves as drawn: thinned loss, validation metric, style, end mark."""

    name: str  # in the legend: "(chosen)" added to the chosen trial's group name
    group: str
    color: str
    chosen: bool  # drawn bold
    diverged: bool  # drawn dashed
    loss: tuple[tuple[float, ...], tuple[float, ...]]  # steps, values (thinned)
    metric: tuple[tuple[float, ...], tuple[float, ...]]  # eval steps, values
    broke_off: tuple[float, float] | None  # a diverged trial's last finite loss: a red cross


@dataclass(frozen=True)
class TrialCurvesInfo:
    """The trials' curves, best first, and the swept param's log10 range for a colour bar."""

    title: str
    curves: tuple[TrialCurve, ...]
    colorbar: tuple[str, float, float] | None  # param, log10 low, log10 high


def trial_curves_info(
    study: StudyRecord,
    param: str | None = None,
    choice: SweepChoice | None = None,
    title: str | None = None,
) -> TrialCurvesInfo:
    """What ``trial_curves_figure`` draws: every complete or infeasible trial with curves."""
    trials = [t for t in study.trials if t.curves and t.state in ("complete", "infeasible")]
    values = [float(t.params[param]) for t in trials if param and _positive(t.params.get(param))]
    low, high = (math.log10(min(values)), math.log10(max(values))) if values else (0.0, 1.0)
    ranked = {t.number: i for i, t in enumerate(study.ranked())}
    curves = tuple(
        _trial_curve(t, study.metric, _label(t, param, ranked, (low, high)), choice)
        for t in sorted(trials, key=lambda t: ranked.get(t.number, len(ranked)))
    )
    return TrialCurvesInfo(
        title=title or f"Every trial's curves: {study.name}",
        curves=curves,
        colorbar=(param, low, high) if param and values else None,
    )


def _label(
    t: TrialRecord, param: str | None, ranked: dict[int, int], span: tuple[float, float]
) -> tuple[str, str]:
    """A trial's legend name and colour: by its swept value (log scale), else by its rank."""
    value = t.params.get(param) if param else None
    if param and _positive(value):
        where = _log_position(value, *span)
        return f"{param}={fmt(float(value))}", sample_colorscale(COLORSCALE, [where])[0]
    rank = ranked.get(t.number)
    color = sample_colorscale(COLORSCALE, [min(rank or 0, 9) / 9])[0]
    return f"trial {t.number}" + (f" (#{rank + 1})" if rank is not None else ""), color


def _trial_curve(
    t: TrialRecord, metric: str, label: tuple[str, str], choice: SweepChoice | None
) -> TrialCurve:
    name, color = label
    diverged = t.state == "infeasible"
    chosen = choice is not None and t.number == choice.trial
    xs, ys = thinned(*step_series(t.curves or {}, "train_loss"))
    _, e_steps, e_values = eval_series(t.curves or {}, metric)
    return TrialCurve(
        name=name + (" (chosen)" if chosen else ""),
        group=name,
        color=color,
        chosen=chosen,
        diverged=diverged,
        loss=(tuple(xs), tuple(ys)),
        metric=(tuple(e_steps.tolist()), tuple(e_values.tolist())),
        broke_off=_last_finite_loss(t) if diverged else None,
    )


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
    info = trial_curves_info(study, param, choice, title)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "validation"))
    for curve in info.curves:
        _draw_curve(fig, curve)
    if not info.curves:
        fig.add_annotation(
            text="no curves stored", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
        return fig
    if info.colorbar is not None:
        fig.add_trace(_colorbar(*info.colorbar))
        fig.update_layout(legend={"orientation": "h", "y": -0.25})  # clear of the colour bar
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(title=info.title, height=_HEIGHT + 100)
    return fig


def _draw_curve(fig: go.Figure, c: TrialCurve) -> None:
    """The loss on the left, the validation metric on the right, a cross where it broke off."""
    line = {
        "color": c.color,
        "width": 4 if c.chosen else 1.5,
        "dash": "dash" if c.diverged else None,
    }
    style: dict[str, Any] = {"legendgroup": c.group, "line": line, "name": c.name}
    fig.add_trace(go.Scatter(x=c.loss[0], y=c.loss[1], mode="lines", **style), 1, 1)
    fig.add_trace(
        go.Scatter(x=c.metric[0], y=c.metric[1], mode="lines+markers", showlegend=False, **style),
        1,
        2,
    )
    if c.broke_off is not None:
        fig.add_trace(
            go.Scatter(
                x=[c.broke_off[0]],
                y=[c.broke_off[1]],
                mode="markers",
                showlegend=False,
                marker={"symbol": "x", "size": 12, "color": "#c62828"},
                name=f"{c.group} diverged",
                legendgroup=c.group,
            ),
            1,
            1,
        )


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
