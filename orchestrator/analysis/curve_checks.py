"""Curve checks on the best trials of each study (PLAYBOOK.md 4, "Training curves").

Each check is a pure function ``(trial, study, cfg) -> list[Finding]`` that reads the
trial's stored curves (the trainer's ``Curves`` as a dict) and stays silent when they are
missing or too short to judge; each is written as its rule alone (``curve_rule.py`` holds
the shape they share). The ones on the validation metric's evaluations are here, the ones
on per-step signals (training loss, gradient norm, update ratio) in ``step_checks.py``.
``run_curve_checks`` applies them to the best complete trial(s) of each study: the curves
of the trials a round will build on are the ones whose problems matter, and checking every
trial would drown those findings in noise.

The default training is short (300 steps, an evaluation every 50), so the rules are built
for few, noisy points: they compare means over windows or over several evaluations rather
than single points, remove the linear trend before measuring variation, and ask for a
minimum number of points before they say anything (the series, windows and units they
share are in ``curve_series.py``).

Units: a validation *error* is a fraction in [0, 1], so its changes are measured in
absolute points (0.05 = five percentage points); a relative change of a small error rate
(0.01 -> 0.011) is noise-level with any finite validation set. A *loss* has an arbitrary
scale, so its changes are measured relative to its level. ``overfit_rise`` and
``improving_tolerance`` are read in those units.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from orchestrator.analysis.curve_rule import CurveCheck, CurveView, Seen
from orchestrator.analysis.curve_series import (
    MIN_LATE_POINTS,
    curve_noise,
    detrended_rel_std,
    eval_series,
    excess,
    is_error,
    lr_decays,
    n_steps,
    step_series,
    unit_name,
    window,
    window_mean,
)
from orchestrator.analysis.measured import proportion_noise
from orchestrator.analysis.model import Curves, StudyRecord, TrialRecord
from orchestrator.analysis.round_checks import LENGTH_KEY
from orchestrator.analysis.step_checks import instability, training_loss_rising, update_ratio
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.findings import Finding, Kind, Severity, with_alternative

__all__ = [
    "instability",
    "late_variance",
    "overfitting",
    "CURVE_CHECKS",
    "run_curve_checks",
    "saturated_early",
    "still_improving",
    "training_loss_rising",
    "update_ratio",
]

DECAYING_SCHEDULE = "linear"  # the playbook's lazy, robust default (PLAYBOOK.md 7)
MIN_EVALS = 3  # fewer evaluations than this cannot show a trend or a plateau
NOISES = 2.5  # a change must exceed this many of its noises to be a change
MIN_ERROR_SWING = 0.01  # late swings of an error below a point are no finding

TrialCheck = Callable[[TrialRecord, str, AnalysisConfig], list[Finding]]


# ------------------------------------- the checks on the validation metric's evaluations


def _overfitting(v: CurveView) -> Seen | None:
    """Validation metric rising from its minimum while the training loss kept falling.

    Rule: with at least 3 evaluations and at least 2 of them after the (first) minimum, the
    mean of the last two exceeds the minimum by more than ``cfg.overfit_rise`` (absolute points
    for the error, relative for the loss) and by more than 2.5 noises of that difference
    (:func:`~orchestrator.analysis.curve_series.curve_noise`: the scatter of the evaluations
    from the minimum on around a line, or the error's sampling noise on ``examples`` validation
    examples, whichever is larger); and the training loss, averaged over a window of a tenth of
    training, is lower at the end than at the minimum's step. Why the noise: a flat but noisy
    curve has an end above its luckiest dip in most runs (the old rule called 60% of such
    curves overfitting). Why the training loss: a rising validation metric with a rising
    training loss is instability instead.
    """
    name, steps, values = eval_series(v.curves, v.metric)
    if len(values) < MIN_EVALS:
        return None
    i_min = int(np.argmin(values))
    if len(values) - 1 - i_min < 2:
        return None
    best, end = float(values[i_min]), float(values[-2:].mean())
    absolute = is_error(name)
    rise = excess(end, best, absolute)
    sigma = curve_noise(name, values, v.examples, since=i_min) * math.sqrt(1 / 2 + 1)
    noise_rise = excess(best + NOISES * sigma, best, absolute)
    if rise <= v.cfg.overfit_rise or rise <= noise_rise:
        return None
    loss_then, loss_end = _train_loss_then_and_end(v.trial, v.curves, float(steps[i_min]))
    if not (loss_end < loss_then):  # also False when either is NaN (no training loss)
        return None
    message = (
        f"{name} rose from its minimum {best:.4g} at step "
        f"{int(steps[i_min])} to {end:.4g} at the end (+{rise:.3g} {unit_name(absolute)} > "
        f"{max(v.cfg.overfit_rise, noise_rise):.3g}, the threshold or {NOISES:g} noises) while "
        f"the training loss fell from {loss_then:.4g} to {loss_end:.4g}: the model overfits."
    )
    regularise = {"regularisation": "add or strengthen (dropout, weight decay, augmentation)"}
    return message, with_alternative(regularise, "fewer steps")


def _train_loss_then_and_end(
    trial: TrialRecord, curves: Curves, then: float
) -> tuple[float, float]:
    """The training loss, averaged over a tenth of training, at step ``then`` and at the end.

    NaN where no finite training loss falls in the window (or none is stored at all).
    """
    t_steps, t_loss = step_series(curves, "train_loss")
    width = window(n_steps(trial, curves))
    loss_then = window_mean(t_steps, t_loss, then, width)
    loss_end = window_mean(t_steps, t_loss, float(t_steps[-1]) if len(t_steps) else 0.0, width)
    return loss_then, loss_end


def _late_variance(v: CurveView) -> Seen | None:
    """Large step-to-step variation in the last ``cfg.late_fraction`` of training.

    Rule: the late points are the validation metric's evaluations after
    ``(1 - late_fraction) x steps`` (at least 3 of them, else the check is skipped and the
    ``skipped`` findings say so: the per-step training loss wobbles with every batch, which
    says nothing about comparing trials, and flagged 26-42% on every default round). Their
    variation is the std of the residuals
    around a least-squares line (so a smooth trend is not noise); it warns when that is
    above ``cfg.late_variance_warn`` of their mean level *and*, for an error, above twice
    its binomial sampling noise on ``examples`` validation examples and above
    ``MIN_ERROR_SWING`` (one point): a relative threshold means nothing at a low error
    (on 359 images an error of 3% moves by 0.3 points per image, and swings of one or two
    images are the validation set's noise, not training's). Why: when the end of training
    wobbles by more than the differences between trials, comparing trials becomes luck.
    """
    cfg = v.cfg
    late_start = (1.0 - cfg.late_fraction) * n_steps(v.trial, v.curves)
    name, steps, values = eval_series(v.curves, v.metric)
    late = values[steps > late_start]
    if len(late) < MIN_LATE_POINTS:
        return None  # skipped.py says so: per-batch loss noise is no late variance
    rel = detrended_rel_std(late)
    if not rel > cfg.late_variance_warn:  # also False for NaN (too few points, zero level)
        return None
    level = float(late.mean())
    floor = _error_floor(name, level, rel * abs(level), v.examples)
    if floor is None:
        return None
    message = (
        f"over the last {cfg.late_fraction:.0%} of training "
        f"({len(late)} points) the {name} varies by {rel:.3g} of its level "
        f"{level:.4g} around its trend (> {cfg.late_variance_warn:g}{floor}): "
        "comparisons between trials become luck."
    )
    remedy = "a larger validation set or batch size"
    if lr_decays(v.curves):
        return message, {"remedy": remedy}
    return message, with_alternative({"schedule.name": DECAYING_SCHEDULE}, remedy)


def _error_floor(name: str, level: float, swing: float, examples: int | None) -> str | None:
    """For an error: None when its late swing is within its floor (twice its sampling
    noise on ``examples``, at least ``MIN_ERROR_SWING``), else the floor for the message;
    "" for a loss (no floor)."""
    if not is_error(name):
        return ""
    sampling = proportion_noise(name, level, examples) or 0.0
    least = max(MIN_ERROR_SWING, 2 * sampling)
    if swing <= least:
        return None
    return f", above the error's floor {least:.3g}"


def _still_improving(v: CurveView) -> Seen | None:
    """Still getting better at the end of training: more steps or a schedule would help.

    Rule: the last evaluation is the best of all, and it beats the mean of the earlier late
    evaluations (after ``(1 - late_fraction) x steps``; if there are none, the previous
    evaluation) by more than ``cfg.improving_tolerance`` (points for the error; for the loss,
    relative to the last value), and by more than 2.5 noises of one evaluation
    (:func:`~orchestrator.analysis.curve_series.curve_noise` over the second half of the
    evaluations). Why the mean of several and the noise: one lucky last evaluation against
    one unlucky previous one should not suggest doubling the budget.
    """
    cfg = v.cfg
    name, steps, values = eval_series(v.curves, v.metric)
    if len(values) < 2 or values[-1] > values[:-1].min():
        return None
    n = n_steps(v.trial, v.curves)
    earlier = values[:-1][steps[:-1] > (1.0 - cfg.late_fraction) * n]
    if len(earlier) == 0:
        earlier = values[-2:-1]
    ref, last = float(earlier.mean()), float(values[-1])
    absolute = is_error(name)
    gain = excess(ref, last, absolute)
    sigma = curve_noise(name, values, v.examples, since=len(values) // 2)
    if gain <= cfg.improving_tolerance or ref - last <= NOISES * sigma:
        return None
    message = (
        f"the last {name} {last:.4g} (step {int(steps[-1])}) is the best "
        f"and beats the earlier late mean {ref:.4g} by {gain:.3g} {unit_name(absolute)} "
        f"(> {cfg.improving_tolerance:g}): training was still improving."
    )
    suggestion: dict[str, Any] = {LENGTH_KEY: 2 * n}
    if not lr_decays(v.curves):
        suggestion = with_alternative(suggestion, {"schedule.name": DECAYING_SCHEDULE})
    return message, suggestion


def _saturated_early(v: CurveView) -> Seen | None:
    """The validation metric stopped improving long before the end: fewer steps would do.

    Rule: with at least 3 evaluations, the saturation step is the first evaluation within
    ``cfg.improving_tolerance`` of the best (points for the error, relative for the loss),
    so nothing later beat it by more than that; if it lies before ``cfg.saturation_fraction
    x steps`` the run saturated early. Why "within tolerance" rather than the exact minimum:
    on a noisy plateau the exact minimum lands anywhere, and a later gain smaller than the
    tolerance is not worth the steps. Suggests twice the saturation step as the budget
    (margin for the best step to stay away from the budget's edges).
    """
    cfg = v.cfg
    name, steps, values = eval_series(v.curves, v.metric)
    if len(values) < MIN_EVALS:
        return None
    best = float(values.min())
    absolute = is_error(name)
    i_sat = next(
        i
        for i, v in enumerate(values)
        if excess(float(v), best, absolute) <= cfg.improving_tolerance
    )
    n = n_steps(v.trial, v.curves)
    sat_step = int(steps[i_sat])
    if sat_step >= cfg.saturation_fraction * n:
        return None
    message = (
        f"{name} reached {float(values[i_sat]):.4g} at step {sat_step} "
        f"of {n} ({sat_step / n:.0%}, before {cfg.saturation_fraction:.0%}) and nothing later "
        f"beat it by more than {cfg.improving_tolerance:g} {unit_name(absolute)}: "
        "fewer steps would do."
    )
    return message, {LENGTH_KEY: 2 * sat_step}


# ------------------------------------------------------------------ the table and the round


overfitting = CurveCheck(Kind.OVERFITTING, Severity.WARN, _overfitting)
late_variance = CurveCheck(Kind.LATE_VARIANCE, Severity.WARN, _late_variance)
still_improving = CurveCheck(Kind.STILL_IMPROVING, Severity.INFO, _still_improving)
saturated_early = CurveCheck(Kind.SATURATED_EARLY, Severity.INFO, _saturated_early)

# Every curve check, in the order their findings are listed: the validation metric's,
# then the per-step signals'.
CURVE_CHECKS = (
    overfitting,
    late_variance,
    still_improving,
    saturated_early,
    training_loss_rising,
    instability,
    update_ratio,
)


def curve_checks_for(metric: str, examples: int | None = None) -> Sequence[TrialCheck]:
    """Every curve check, the evaluation-based ones reading ``metric``'s curve (and the
    noise-aware ones the validation set's size, when known)."""
    return tuple(partial(check, metric=metric, examples=examples) for check in CURVE_CHECKS)


def run_curve_checks(
    studies: list[StudyRecord], cfg: AnalysisConfig, top_k: int = 1
) -> list[Finding]:
    """All curve checks on the ``top_k`` best complete trials of each study.

    Only the best trials: they are the ones the next round builds on, and the playbook
    reads the training curves of the best trials. A study optimising a metric the trainer
    does not store as a curve (e.g. accuracy) is judged on its validation error curve.
    """
    findings: list[Finding] = []
    for study in studies:
        checks = curve_checks_for(study.metric, study.val_examples)
        for trial in study.ranked()[:top_k]:
            for check in checks:
                findings.extend(check(trial, study.name, cfg))
    return findings
