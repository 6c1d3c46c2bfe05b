"""Curve checks on per-step signals of a trial: the training loss, the gradient norm, the
update-to-weight ratio (PLAYBOOK.md 4, "Training curves"; the checks on the validation
metric's evaluations and the round's runner are in ``curve_checks.py``).

Each is its rule alone, a function of one ``CurveView``, made a check ``(trial, study,
cfg) -> list[Finding]`` by its row at the end (``curve_rule.CurveCheck``). Per-step signals
are noisy batch by batch, so each rule reads windows, medians or percentiles, never single
steps.
"""

from __future__ import annotations

import math

import numpy as np

from orchestrator.analysis.curve_rule import CurveCheck, CurveView, Seen
from orchestrator.analysis.curve_series import finite, n_steps, step_series, window, window_mean
from orchestrator.store.findings import Kind, Severity

RISING_FACTOR = 1.2  # the training loss's end over its lowest window mean that is a rise
PROGRESS_LOST = 0.2  # the share of its fall the training loss must give back to be rising
EARLY_FRACTION = 0.1  # gradient spikes this early in training call for warmup first
WARMUP_FRACTION = (0.05, 0.1)  # the warmup suggested, as fractions of training
TRANSIENT_FRACTION = 0.05  # the longest initial run of large gradient norms left out
RATIO_RANGE = (1e-5, 1e-1)  # update-to-weight ratios outside this are a learning-rate hint


def _training_loss_rising(v: CurveView) -> Seen | None:
    """The smoothed training loss ends clearly above its minimum: a bug or instability.

    Rule: the per-step training loss is averaged over consecutive windows of a tenth of
    training, aligned to the last step; it warns when the last window's mean exceeds
    ``RISING_FACTOR`` (1.2) x the lowest window mean *and* gives back more than
    ``PROGRESS_LOST`` (20%) of the progress from the first window to the lowest.
    Why windows: per-batch losses are too noisy to compare single steps. Why the progress:
    near zero a relative rise means nothing (0.012 -> 0.025 is 2x, and nothing, after a
    fall from 2.3), while giving back a fifth of what training achieved is a real rise.
    """
    t_steps, t_loss = step_series(v.curves, "train_loss")
    if len(t_loss) < 2:
        return None
    width = window(len(v.curves.get("train_loss") or []))
    last = float(t_steps[-1])
    means = [
        window_mean(t_steps, t_loss, end, width)
        for end in np.arange(last, width - 1, -width)  # whole windows only
    ]
    means = [m for m in means if not math.isnan(m)]
    if len(means) < 2:
        return None
    end_mean, low, first = means[0], min(means), means[-1]
    fell = first - low
    if (
        end_mean - low <= (RISING_FACTOR - 1.0) * abs(low)
        or end_mean - low <= PROGRESS_LOST * fell
    ):
        return None
    given_back = (
        f"giving back {(end_mean - low) / fell:.0%} of its fall from {first:.4g}"
        if fell > 0
        else "rising from the start"
    )
    message = (
        f"the training loss (mean over {width} steps) ends at "
        f"{end_mean:.4g}, {end_mean - low:.4g} above its minimum {low:.4g} (more than "
        f"{RISING_FACTOR - 1:.0%} of it), {given_back}: a bug or instability."
    )
    suggestion = {"check": "a bug (data, loss, schedule) or instability", "optimizer.lr": "lower"}
    return message, suggestion


def _instability(v: CurveView) -> Seen | None:
    """Gradient-norm spikes: suggest warmup and clipping at about the 90th percentile norm.

    Rule: with at least 10 finite gradient norms, a spike is a step whose norm exceeds
    ``cfg.grad_spike_factor`` x the median norm; any spike warns. The initial transient of
    a fresh network is not a spike: a run of large norms from the very first step, up to
    ``TRANSIENT_FRACTION`` (5%) of training, is left out (the first steps of a randomly
    initialised network ordinarily have norms many times the later median); a large norm
    after a normal one, or a run that lasts longer, still counts. Suggests
    ``train.grad_clip_norm`` = the 90th percentile of the norms (rounded to 3 decimals; the
    playbook's clipping point, which clips about 10% of steps) and
    ``schedule.warmup_steps`` = 5% of the steps, or, when spikes fall in the first
    ``EARLY_FRACTION`` of training (unstable early training: warmup is the first fix),
    enough to cover the last early spike, between 5% and 10% of the steps.
    """
    cfg = v.cfg
    g_steps, norms = step_series(v.curves, "grad_norm")
    if len(norms) < 10:
        return None
    median = float(np.median(norms))
    n = n_steps(v.trial, v.curves)
    large = norms > cfg.grad_spike_factor * median
    settled = _transient_end(large, max(1, int(TRANSIENT_FRACTION * n)))
    spikes = g_steps[settled:][large[settled:]]
    if len(spikes) == 0:
        return None
    early = spikes[spikes <= EARLY_FRACTION * n]
    low, high = (max(1, round(f * n)) for f in WARMUP_FRACTION)
    warmup = min(high, max(low, int(early.max()))) if len(early) else low
    clip = round(float(np.percentile(norms, 90)), 3)
    peak = settled + int(np.argmax(norms[settled:]))
    where = (
        f"{len(early)} in the first {EARLY_FRACTION:.0%}: warm up first"
        if len(early)
        else "none early"
    )
    message = (
        f"{len(spikes)} gradient-norm spikes above "
        f"{cfg.grad_spike_factor:g}x the median {median:.3g} (max {float(norms[peak]):.3g} at "
        f"step {int(g_steps[peak])}; {where}); clip at about the 90th percentile {clip:g}."
    )
    suggestion = {"schedule.warmup_steps": warmup, "train.grad_clip_norm": clip}
    return message, suggestion


def _transient_end(large: np.ndarray, longest: int) -> int:
    """How many leading steps are the initial transient: the run of large norms from the
    first step, when it ends within ``longest`` steps (else none: it is no transient)."""
    run = int(np.argmin(large)) if not large.all() else len(large)
    return run if run <= longest else 0


def _update_ratio(v: CurveView) -> Seen | None:
    """The update-to-weight ratio far from the typical ~1e-3: a learning-rate sanity signal.

    Rule: the median of the finite ``update_ratio`` samples above 1e-1 or below 1e-5
    (``RATIO_RANGE``) gives an info finding suggesting a lower or higher
    ``optimizer.lr``. Why the median: the first updates of a fresh model are large, and one
    sample should not decide. Info only: the ratio is a cheap hint, not proof.
    """
    ratios = [float(r) for r in v.curves.get("update_ratio") or [] if finite(r)]
    if not ratios:
        return None
    low, high = RATIO_RANGE
    median = float(np.median(ratios))
    if low <= median <= high:
        return None
    direction = "lower" if median > high else "higher"
    message = (
        f"the median update-to-weight ratio {median:.3g} is far from "
        f"the typical ~1e-3 (outside [{low:g}, {high:g}]): the learning rate may be too "
        f"{'high' if direction == 'lower' else 'low'}."
    )
    return message, {"optimizer.lr": direction}


training_loss_rising = CurveCheck(Kind.TRAINING_LOSS_RISING, Severity.WARN, _training_loss_rising)
instability = CurveCheck(Kind.INSTABILITY, Severity.WARN, _instability)
update_ratio = CurveCheck(Kind.UPDATE_RATIO, Severity.INFO, _update_ratio)
