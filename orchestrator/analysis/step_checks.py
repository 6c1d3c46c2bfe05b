"""Curve checks on per-step signals of a trial: the training loss, the gradient norm, the
update-to-weight ratio (PLAYBOOK.md 4, "Training curves"; the checks on the validation
metric's evaluations and the round's runner are in ``curve_checks.py``).

Each is its rule alone, turned into a check ``(trial, study, cfg) -> list[Finding]`` by
``curve_rule.curve_check``. Per-step signals are noisy batch by batch, so each rule reads
windows, medians or percentiles, never single steps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from orchestrator.analysis.curve_rule import Seen, curve_check
from orchestrator.analysis.curve_series import finite, n_steps, step_series, window, window_mean
from orchestrator.analysis.model import TrialRecord
from orchestrator.config.sections import AnalysisConfig


@curve_check("training_loss_rising", "warn")
def training_loss_rising(
    trial: TrialRecord,
    curves: dict[str, Any],
    cfg: AnalysisConfig,
    *,
    rising_factor: float = 1.2,
    progress_lost: float = 0.2,
) -> Seen | None:
    """The smoothed training loss ends clearly above its minimum: a bug or instability.

    Rule: the per-step training loss is averaged over consecutive windows of a tenth of
    training, aligned to the last step; it warns when the last window's mean exceeds
    ``rising_factor`` (default 1.2) x the lowest window mean *and* gives back more than
    ``progress_lost`` (default 20%) of the progress from the first window to the lowest.
    Why windows: per-batch losses are too noisy to compare single steps. Why the progress:
    near zero a relative rise means nothing (0.012 -> 0.025 is 2x, and nothing, after a
    fall from 2.3), while giving back a fifth of what training achieved is a real rise.
    """
    t_steps, t_loss = step_series(curves, "train_loss")
    if len(t_loss) < 2:
        return None
    width = window(len(curves.get("train_loss") or []))
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
        end_mean - low <= (rising_factor - 1.0) * abs(low)
        or end_mean - low <= progress_lost * fell
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
        f"{rising_factor - 1:.0%} of it), {given_back}: a bug or instability."
    )
    suggestion = {"check": "a bug (data, loss, schedule) or instability", "optimizer.lr": "lower"}
    return message, suggestion


@curve_check("instability", "warn")
def instability(
    trial: TrialRecord,
    curves: dict[str, Any],
    cfg: AnalysisConfig,
    *,
    early_fraction: float = 0.1,
    warmup_fraction: tuple[float, float] = (0.05, 0.1),
    transient_fraction: float = 0.05,
) -> Seen | None:
    """Gradient-norm spikes: suggest warmup and clipping at about the 90th percentile norm.

    Rule: with at least 10 finite gradient norms, a spike is a step whose norm exceeds
    ``cfg.grad_spike_factor`` x the median norm; any spike warns. The initial transient of
    a fresh network is not a spike: a run of large norms from the very first step, up to
    ``transient_fraction`` (5%) of training, is left out (the first steps of a randomly
    initialised network ordinarily have norms many times the later median); a large norm
    after a normal one, or a run that lasts longer, still counts. Suggests
    ``train.grad_clip_norm`` = the 90th percentile of the norms (rounded to 3 decimals; the
    playbook's clipping point, which clips about 10% of steps) and
    ``schedule.warmup_steps`` = 5% of the steps, or, when spikes fall in the first
    ``early_fraction`` of training (unstable early training: warmup is the first fix),
    enough to cover the last early spike, between 5% and 10% of the steps.
    """
    g_steps, norms = step_series(curves, "grad_norm")
    if len(norms) < 10:
        return None
    median = float(np.median(norms))
    n = n_steps(trial, curves)
    large = norms > cfg.grad_spike_factor * median
    settled = _transient_end(large, max(1, int(transient_fraction * n)))
    spikes = g_steps[settled:][large[settled:]]
    if len(spikes) == 0:
        return None
    early = spikes[spikes <= early_fraction * n]
    low, high = (max(1, round(f * n)) for f in warmup_fraction)
    warmup = min(high, max(low, int(early.max()))) if len(early) else low
    clip = round(float(np.percentile(norms, 90)), 3)
    peak = settled + int(np.argmax(norms[settled:]))
    where = (
        f"{len(early)} in the first {early_fraction:.0%}: warm up first"
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


@curve_check("update_ratio", "info")
def update_ratio(
    trial: TrialRecord,
    curves: dict[str, Any],
    cfg: AnalysisConfig,
    *,
    high: float = 1e-1,
    low: float = 1e-5,
) -> Seen | None:
    """The update-to-weight ratio far from the typical ~1e-3: a learning-rate sanity signal.

    Rule: the median of the finite ``update_ratio`` samples above ``high`` (default 1e-1)
    or below ``low`` (default 1e-5) gives an info finding suggesting a lower or higher
    ``optimizer.lr``. Why the median: the first updates of a fresh model are large, and one
    sample should not decide. Info only: the ratio is a cheap hint, not proof.
    """
    ratios = [float(v) for v in curves.get("update_ratio") or [] if finite(v)]
    if not ratios:
        return None
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
