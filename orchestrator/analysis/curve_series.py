"""Turning a trial's stored curves into series the curve checks can measure.

The curves come from the store as plain lists (``None`` or non-finite where a step
diverged, an evaluation curve aligned with ``eval_step``, per-step curves indexed from
step 1), and a short run gives few, noisy points. Every curve check needs the same
careful reading: finite points only, the right step for each value, a smoothing window
scaled to the run's length, variation measured around the trend rather than around the
mean, and changes in the metric's own units. Doing it once here keeps the rules in
``curve_checks.py`` short and all of them measuring alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

import numpy as np

from orchestrator.analysis.model import Curves, TrialRecord

EVAL_METRICS = ("val_error", "val_loss")  # the validation curves a trainer stores
MIN_LATE_POINTS = 3  # fewer late points than this cannot show variation around a trend


def finite(value: Any) -> TypeGuard[float]:
    """Not None, and a finite number (a diverged step stores NaN or inf)."""
    return value is not None and math.isfinite(float(value))


def curve_values(curves: Curves, name: str) -> list[Any]:
    """The curve stored under ``name`` (a metric named at run time), empty when none is."""
    stored: Mapping[str, Any] = curves  # a TypedDict is read by a literal key, this one is not
    return list(stored.get(name) or [])


def eval_series(curves: Curves, metric: str) -> tuple[str, np.ndarray, np.ndarray]:
    """(metric, steps, values) of the finite evaluations, lower is better.

    ``metric``'s own stored curve first (``val_error``, ``val_loss``); else the objective's
    curve a trainer reported (``curves["metrics"]``) when it is an error or an accuracy,
    an accuracy as its error ``1 - accuracy`` (so its changes are points, and its sampling
    noise is known); else the other stored metric.
    """
    steps = curves.get("eval_step") or []
    reported = (curves.get("metrics") or {}).get(metric) or []
    candidates = [(metric, curve_values(curves, metric))]
    if any(finite(v) for v in reported) and proportion_name(metric):
        if "acc" in metric.lower():
            candidates.append(
                (f"1 - {metric}", [None if not finite(v) else 1.0 - float(v) for v in reported])
            )
        else:
            candidates.append((f"{metric} (error)", list(reported)))
    candidates += [(m, curve_values(curves, m)) for m in EVAL_METRICS if m != metric]
    for name, values in candidates:
        pairs = [(s, float(v)) for s, v in zip(steps, values, strict=False) if finite(v)]
        if pairs:
            xs, ys = zip(*pairs, strict=True)
            return name, np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    return metric, np.empty(0), np.empty(0)


def proportion_name(metric: str) -> bool:
    """Whether a metric's name says it is an error rate or an accuracy (a proportion);
    a mean absolute or squared error, or a loss, is not."""
    name = metric.lower()
    if any(other in name for other in ("abs", "squared", "mse", "mae", "rmse", "loss")):
        return False
    return "err" in name or "acc" in name


def step_series(curves: Curves, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of a per-step curve (index k-1 is step k), non-finite entries dropped."""
    values = curve_values(curves, key)
    pairs = [(k + 1, float(v)) for k, v in enumerate(values) if finite(v)]
    if not pairs:
        return np.empty(0), np.empty(0)
    xs, ys = zip(*pairs, strict=True)
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def n_steps(trial: TrialRecord, curves: Curves) -> int:
    """Steps the run trained: per-step curve length or last evaluation step, else the budget."""
    n = len(curves.get("train_loss") or [])
    evals = curves.get("eval_step") or []
    if evals:
        n = max(n, int(max(evals)))
    return n or int(trial.max_steps or 0)


# --------------------------------------------------------------------------- units


def is_error(metric: str) -> bool:
    """Whether ``metric`` is an error fraction (``val_error``, or a reported error or
    accuracy read as ``1 - accuracy``), whose changes are absolute points."""
    return metric == "val_error" or metric.startswith("1 - ") or metric.endswith(" (error)")


def excess(value: float, ref: float, absolute: bool) -> float:
    """How far ``value`` lies above ``ref``: in absolute points, or relative to ``|ref|``."""
    if absolute:
        return value - ref
    if ref == 0.0:
        return math.inf if value > ref else 0.0
    return (value - ref) / abs(ref)


def unit_name(absolute: bool) -> str:
    """The unit of an :func:`excess`, for messages."""
    return "points" if absolute else "relative"


# --------------------------------------------------------------------------- smoothing


def window(n: int) -> int:
    """The smoothing window for per-step curves: a tenth of training, at least one step."""
    return max(1, n // 10)


def window_mean(steps: np.ndarray, values: np.ndarray, end: float, width: int) -> float:
    """Mean of the values at steps in (end - width, end]; NaN when none are finite there."""
    mask = (steps > end - width) & (steps <= end)
    return float(values[mask].mean()) if mask.any() else math.nan


def detrended_rel_std(values: np.ndarray) -> float:
    """Std of the residuals around a least-squares line, relative to the mean level.

    The trend is removed so that a curve still falling smoothly is not counted as noise;
    ``ddof=2`` because the line used two degrees of freedom. NaN when the level is ~0.
    """
    if len(values) < MIN_LATE_POINTS:
        return math.nan
    mean = float(values.mean())
    if abs(mean) < 1e-12:
        return math.nan
    x = np.arange(len(values), dtype=float)
    slope, intercept = np.polyfit(x, values, 1)
    residuals = values - (slope * x + intercept)
    return float(np.sqrt(np.sum(residuals**2) / (len(values) - 2)) / abs(mean))


def curve_noise(
    metric: str, values: np.ndarray, examples: int | None = None, since: int = 0
) -> float:
    """The noise of one evaluation of a validation curve, in the metric's units.

    The scatter of the evaluations from index ``since`` on around a least-squares line (four
    evaluations or more there; a rise after a minimum is close to a line, while a whole
    curve, falling steeply and then turning, fits no simple shape on six points), else
    around a quadratic through the whole curve (five or more); or the error's binomial
    sampling noise on ``examples`` validation examples, whichever is larger; 0.0 when
    none is known."""
    estimates = [0.0]
    part = values[since:]
    if len(part) >= 4:
        estimates.append(_scatter(part, degree=1))
    elif len(values) >= 5:
        estimates.append(_scatter(values, degree=2))
    if examples and is_error(metric):
        estimates.append(binomial_noise(float(np.median(values)), examples))
    return max(estimates)


def binomial_noise(proportion: float, examples: int) -> float:
    """The sampling noise of a proportion (an error rate) measured on ``examples`` examples;
    a proportion of 0 or 1 is taken as one example's worth (0 errors is not 0 noise)."""
    p = min(max(proportion, 1.0 / examples), 1.0 - 1.0 / examples)
    return math.sqrt(p * (1.0 - p) / examples)


def _scatter(values: np.ndarray, degree: int) -> float:
    """The residual standard deviation around a least-squares polynomial in the index."""
    x = np.arange(len(values), dtype=float)
    residual = values - np.polyval(np.polyfit(x, values, degree), x)
    return float(np.sqrt(residual @ residual / (len(values) - degree - 1)))


def lr_decays(curves: Curves) -> bool:
    """Whether the learning rate ended at or below half its peak (a decaying schedule)."""
    lrs = [float(v) for v in curves.get("lr") or [] if finite(v)]
    return bool(lrs) and lrs[-1] <= 0.5 * max(lrs)
