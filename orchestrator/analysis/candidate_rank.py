"""The round's candidate, chosen against the winner's curse.

The single best trial of a noisy search is the one whose noise happened to flatter it
most: among configurations nearly as good, the best observed value is an optimistic
estimate, and often not the truly best one. So the candidate is chosen among the study's
``TOP`` best complete trials by an estimate that discounts noise: the prediction of the
additive quadratic fit of all complete trials' values on their positions in the tuned
ranges (``edge_trend.quadratic_design``, the model the boundary and noise checks fit),
averaged with the trial's own value. A trial whose neighbours agree keeps its rank; one
lucky spike in a region the other trials say is worse gives way. Without enough trials
for the fit (``trials_needed``) the best observed trial is the candidate, as before.

Measured on planted truth in ``tests/analysis_tests/test_candidate_rates.py``.
"""

from __future__ import annotations

import math

import numpy as np

from orchestrator.analysis.edge_trend import positions, quadratic_design, trials_needed
from orchestrator.analysis.model import StudyRecord, TrialRecord

TOP = 5  # the near-best trials the candidate is chosen among


def discounted(study: StudyRecord) -> dict[int, float]:
    """Trial number -> the noise-discounted estimate of each of the top complete trials
    (empty when the fit cannot be made)."""
    found = positions(study)
    if found is None:
        return {}
    _, u, values, trials = found
    n, d = u.shape
    if n < trials_needed(d):
        return {}
    x = quadratic_design(u)
    beta, *_ = np.linalg.lstsq(x, values, rcond=None)
    fitted = x @ beta
    own = [i for i in range(n) if not trials[i].carried]  # fitted on all, proposed: its own
    ranked = sorted(own, key=lambda i: values[i], reverse=study.maximize)[:TOP]
    return {trials[i].number: float((values[i] + fitted[i]) / 2) for i in ranked}


def candidate_trial(study: StudyRecord) -> tuple[TrialRecord, float, str] | None:
    """(the trial to propose, its estimate, why it): the best discounted estimate among the
    top trials the round ran itself (carried trials inform the fit only), else the best
    observed one; None without a complete trial of its own."""
    complete = [
        t
        for t in study.ranked()
        if t.value is not None and math.isfinite(t.value) and not t.carried
    ]
    if not complete:
        return None
    best = complete[0]
    assert best.value is not None
    estimates = discounted(study)
    if not estimates:
        return best, best.value, "the best observed trial (too few trials to discount noise)"
    choose = max if study.maximize else min
    pick = choose(estimates, key=estimates.__getitem__)
    trial = next(t for t in complete if t.number == pick)
    if trial.number == best.number:
        return trial, estimates[pick], "the best observed trial, and once noise is discounted"
    return (
        trial,
        estimates[pick],
        (
            f"trial {trial.number} (observed {trial.value:.4g}, discounted {estimates[pick]:.4g}) "
            f"over the best observed trial {best.number} ({best.value:.4g}, discounted "
            f"{estimates[best.number]:.4g}): its neighbours agree with it"
        ),
    )
