"""The batch-size probe as a plotly page: throughput, time per step and memory vs batch size.

Why these panels: the playbook's reading of a probe is visual. While the device is not
saturated, throughput doubles with the batch and the time per step stays flat; once it
is saturated, throughput flattens and the time per step doubles. The x-axis is log2 so
each doubling is one step to the right. The recommended size, the saturation point and
the out-of-memory size are marked with vertical lines drawn as traces (data coordinates
on a log axis are unambiguous for traces, unlike layout shapes).
"""

from __future__ import annotations

import math
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from orchestrator.probe.model import ProbeResult

_MARKS = (("recommended", "green", "dash"), ("saturation", "orange", "dot"), ("OOM", "red", None))


def probe_figure(result: ProbeResult) -> go.Figure:
    """Three panels sharing a log2 batch-size axis, with the verdict's sizes marked."""
    sizes = [p.batch_size for p in result.points]
    panels = (
        ("examples / s", [p.examples_per_s for p in result.points]),
        ("ms / step", [p.step_seconds * 1e3 for p in result.points]),
        ("peak memory (MB)", [p.peak_memory_mb for p in result.points]),
    )
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=("throughput", "time per step", "peak memory"),
    )
    hover = [
        f"batch {p.batch_size}<br>{p.examples_per_s:,.1f} examples/s<br>"
        f"{p.step_seconds * 1e3:.2f} ms/step<br>{p.seconds_per_1k_steps:.1f} s per 1k steps"
        for p in result.points
    ]
    for row, (label, values) in enumerate(panels, start=1):
        fig.add_trace(
            go.Scatter(
                x=sizes,
                y=values,
                mode="lines+markers",
                name=label,
                hovertext=hover,
                hoverinfo="text",
            ),
            row,
            1,
        )
        fig.update_yaxes(title_text=label, rangemode="tozero", row=row, col=1)
        _mark_sizes(fig, result, row, max(values))
    _log2_axis(fig, result)
    v = result.verdict
    title = (
        f"Batch-size probe: {result.model} on {result.data} ({result.device_name}): "
        f"recommended {v.recommended}"
    )
    if v.bottleneck:
        title += " (bottleneck warning)"
    fig.update_layout(title=title, height=850, hovermode="closest")
    return fig


def _marked_sizes(result: ProbeResult) -> list[tuple[str, int, str, str | None]]:
    v = result.verdict
    values = {"recommended": v.recommended, "saturation": v.saturation, "OOM": result.oom_at}
    return [
        (name, size, color, dash)
        for name, color, dash in _MARKS
        if (size := values[name]) is not None
    ]


def _mark_sizes(fig: go.Figure, result: ProbeResult, row: int, top: float) -> None:
    """A vertical line per marked size; the legend entry only on the first panel."""
    for name, size, color, dash in _marked_sizes(result):
        fig.add_trace(
            go.Scatter(
                x=[size, size],
                y=[0, top * 1.05],
                mode="lines",
                line={"color": color, "dash": dash, "width": 2},
                name=f"{name} ({size})",
                legendgroup=name,
                showlegend=row == 1,
                hoverinfo="name",
            ),
            row,
            1,
        )


def _log2_axis(fig: go.Figure, result: ProbeResult) -> None:
    """Log-scale x with one tick per power of two, labelled with the plain batch size."""
    largest = max([p.batch_size for p in result.points] + [result.oom_at or 1])
    ticks = [2**k for k in range(int(math.log2(largest)) + 1)]
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(t) for t in ticks])
    fig.update_xaxes(title_text="batch size (log2 axis)", row=3, col=1)


def write_probe_html(result: ProbeResult, path: str | Path) -> Path:
    """Write a self-contained page (plotly.js inlined, works offline)."""
    path = Path(path)
    probe_figure(result).write_html(path, include_plotlyjs=True, full_html=True)
    return path
