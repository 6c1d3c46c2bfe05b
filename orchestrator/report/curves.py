"""Training curves of one run as a plotly figure: loss, validation error, rate, gradient norm."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from orchestrator.train.result import TrainResult


def curves_figure(result: TrainResult, title: str = "Training curves") -> go.Figure:
    """Four panels sharing the step axis; a diverged run gets a marker at its divergence step."""
    c = result.curves
    steps = list(range(1, len(c.train_loss) + 1))
    fig = make_subplots(
        rows=2,
        cols=2,
        shared_xaxes=True,
        subplot_titles=("training loss", "validation error", "learning rate", "gradient norm"),
    )
    fig.add_trace(go.Scatter(x=steps, y=c.train_loss, name="train loss", mode="lines"), 1, 1)
    fig.add_trace(
        go.Scatter(x=c.eval_step, y=c.val_loss, name="val loss", mode="lines+markers"), 1, 1
    )
    fig.add_trace(
        go.Scatter(x=c.eval_step, y=c.val_error, name="val error", mode="lines+markers"), 1, 2
    )
    fig.add_trace(go.Scatter(x=steps, y=c.lr, name="lr", mode="lines"), 2, 1)
    fig.add_trace(go.Scatter(x=steps, y=c.grad_norm, name="grad norm", mode="lines"), 2, 2)
    if result.best_step is not None:
        fig.add_vline(x=result.best_step, line_dash="dot", line_color="green", row=1, col=2)
    if result.diverged_step is not None:
        for row, col in ((1, 1), (1, 2), (2, 1), (2, 2)):
            fig.add_vline(x=result.diverged_step, line_color="red", row=row, col=col)
    fig.update_yaxes(rangemode="tozero", row=2, col=1)  # a constant rate stays readable
    fig.update_yaxes(type="log", row=2, col=2)
    fig.update_layout(title=f"{title}: {result.summary()}", height=700)
    return fig


def write_curves_html(result: TrainResult, path: Path, title: str = "Training curves") -> Path:
    """Write a self-contained page (plotly.js inlined, works offline)."""
    curves_figure(result, title).write_html(path, include_plotlyjs=True, full_html=True)
    return path
