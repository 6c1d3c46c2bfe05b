"""How much noise a study's objective values carry, so the checks compare against it.

A gap, a swing or a rise smaller than the noise the values carry is not a finding: on a
359-image validation set an error moves by 1/359 per image, and the binomial sampling noise
of an error of 3% there is 0.9 points. The noise quoted beside a value is measured
(:func:`~orchestrator.analysis.measured.measured_noise`: sampling noise, the spread of
repeated configs or of seed reruns, a deterministic objective's zero), never a fit's
misfit. The density check, which asks whether the best stands alone, also reads:

- **scatter around a fitted trend**: the standard deviation of the residuals of an
  additive quadratic fit of the values on the params' positions, leaving out the best
  trial's own (a lucky hit of a narrow optimum is what the noise is asked about, and
  must not inflate it). A diverged-but-finite trial far off the fit inflates it; the
  checks that use it then stay silent rather than fire.
"""

from __future__ import annotations

import numpy as np

from orchestrator.analysis.edge_trend import positions, quadratic_design, trials_needed
from orchestrator.analysis.measured import Noise, measured_noise, proportion_noise
from orchestrator.analysis.model import StudyRecord

__all__ = ["Noise", "measured_noise", "proportion_noise"]


def fit_noise(study: StudyRecord) -> float | None:
    """The scatter of the complete trials around an additive quadratic fit of their values
    (the best trial's own residual left out); None with too few trials for the fit."""
    found = positions(study)
    if found is None:
        return None
    _, u, values, _ = found
    n, d = u.shape
    if n < trials_needed(d):
        return None
    x = quadratic_design(u)
    beta, *_ = np.linalg.lstsq(x, values, rcond=None)
    residual = values - x @ beta
    best = int(np.argmax(values) if study.maximize else np.argmin(values))
    others = np.delete(residual, best)  # the best is what the noise is asked about
    dof = len(others) - x.shape[1]
    if dof < 1:
        return None
    return float(np.sqrt(others @ others / dof))


def objective_noise(study: StudyRecord) -> tuple[float | None, str]:
    """(the noise the density check compares with, where it came from): the larger of the
    measured noise (:func:`measured_noise`) and the scatter around a fit (training noise
    from seeds and data order adds to the sampling noise, and the scatter sees it), or
    whichever is known."""
    estimates = []
    measured = measured_noise(study)
    if measured.value is not None:
        estimates.append((measured.value, measured.source))
    scatter = fit_noise(study)
    if scatter is not None:
        estimates.append((scatter, "scatter of the trials around a fit"))
    if not estimates:
        return None, "unknown"
    return max(estimates)


CLEAR_GAP = 2.0  # a gap beyond this many noises of the difference is a clear one
TOP_SPREAD = 3  # near-best trials whose spread is the tuning spread racing reads


def tuning_spread(study: StudyRecord) -> float | None:
    """How far a study's best would move with other nuisance points, for racing's stop: the
    larger of its sampling noise and the spread (sample standard deviation) of its top
    three values. Not a noise to quote beside a value (on a sweep over five decades of
    learning rate it is how much the objective varies across the space), only a cautious
    margin for a stop that cannot be undone. None with under two complete trials and no
    sampling noise."""
    values = [float(t.value) for t in study.ranked()[:TOP_SPREAD] if t.value is not None]
    estimates = []
    if values:
        sampling = proportion_noise(study.metric, values[0], study.val_examples)
        if sampling is not None:
            estimates.append(sampling)
    if len(values) >= 2:
        estimates.append(float(np.std(values, ddof=1)))
    return max(estimates) if estimates else None
