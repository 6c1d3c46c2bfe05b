"""The round's candidate, chosen against the winner's curse.

The single best trial of a noisy search is the one whose noise happened to flatter it
most: among configurations nearly as good, the best observed value is an optimistic
estimate, and often not the truly best one. So the candidate is chosen among the study's
``TOP`` best complete trials by a rank that discounts noise: two thirds the trial's own
rank, one third the rank an additive quadratic fit gives its position in the tuned
ranges (``edge_trend.quadratic_design``, the model the boundary check fits to ranks),
fitted on the better half of the complete trials (the region the choice is made in; a
diverged-but-finite trial elsewhere cannot bend it). A trial whose neighbours agree keeps
its place; one lucky spike in a region the other trials say is worse gives way. Across a
round's studies the candidates compare by their observed values. Without enough trials
for the fit (``trials_needed``) the best observed trial is the candidate, as before.

Measured on planted truth in ``tests/analysis_tests/test_candidate_rates.py``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from orchestrator.analysis.edge_trend import positions, quadratic_design, trials_needed
from orchestrator.analysis.model import StudyRecord, TrialRecord

TOP = 5  # the near-best trials the candidate is chosen among
NEAR = 0.5  # the fit reads the better half of the trials (at least what it needs)
OWN = 2 / 3  # the weight of a trial's own rank against the fit's


def discounted(study: StudyRecord) -> dict[int, float]:
    """Trial number -> the noise-discounted rank of each of the top trials the round ran
    itself (1 is best; empty when the fit cannot be made): its observed rank among all
    complete trials and the rank the fit gives its position, weighted ``OWN`` to the rest.
    Ranks, not values, so one diverged-but-finite trial cannot bend the fit (the
    boundary check fits ranks for the same reason)."""
    found = positions(study)
    if found is None:
        return {}
    _, u, values, trials = found
    n, d = u.shape
    if n < trials_needed(d):
        return {}
    ranks = stats.rankdata(-values if study.maximize else values)  # 1 = best
    x = quadratic_design(u)
    near = ranks <= max(n * NEAR, trials_needed(d))  # the good region: where the choice is
    beta, *_ = np.linalg.lstsq(x[near], ranks[near], rcond=None)
    fitted = x @ beta
    own = [i for i in range(n) if not trials[i].carried]  # fitted on all, proposed: its own
    top = sorted(own, key=lambda i: ranks[i])[:TOP]
    return {trials[i].number: float(OWN * ranks[i] + (1 - OWN) * fitted[i]) for i in top}


def candidate_trial(
    study: StudyRecord, *, discount: bool = True
) -> tuple[TrialRecord, float, str] | None:
    """(the trial to propose, its observed value, why it): with ``discount``, the best
    discounted rank among the top trials the round ran itself (carried trials inform the
    fit only), else the best observed one; None without a complete trial of its own."""
    complete = [
        t
        for t in study.ranked()
        if t.value is not None and math.isfinite(t.value) and not t.carried
    ]
    if not complete:
        return None
    best = complete[0]
    assert best.value is not None
    if not discount:
        return best, best.value, "the best trial the round ran"
    estimates = discounted(study)
    if best.number not in estimates:  # no fit, or the best is where a conditional param is off
        return best, best.value, "the best observed trial (too few trials to discount noise)"
    pick = min(estimates, key=estimates.__getitem__)
    trial = next(t for t in complete if t.number == pick)
    assert trial.value is not None
    if trial.number == best.number:
        return trial, trial.value, "the best observed trial, and once noise is discounted"
    return (
        trial,
        trial.value,
        (
            f"trial {trial.number} ({trial.value:.4g}, discounted rank {estimates[pick]:.1f}) "
            f"over the best observed trial {best.number} ({best.value:.4g}, discounted rank "
            f"{estimates[best.number]:.1f}): the trials around it agree with it"
        ),
    )
