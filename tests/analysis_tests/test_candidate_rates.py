"""The candidate against the winner's curse, on planted truth: how often it is the truly
best of the round's top five trials, against today's single best observed trial.

Planted: four tuned params, a saturating bowl (not the quadratic the estimate fits)
with its optimum and weights drawn per seed, scrambled Sobol trials, noise per trial.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import qmc

from orchestrator.analysis.candidate_rank import candidate_trial
from orchestrator.analysis.model import StudyRecord, TrialRecord

DIMS = 4
SPACE = {f"net.p{j}": [{"low": 0.0, "high": 1.0}] for j in range(DIMS)}
SEEDS = range(200)


def planted(
    seed: int, n: int, noise: float, outliers: float = 0.0
) -> tuple[StudyRecord, np.ndarray]:
    """``outliers``: the share of trials that nearly diverged (a finite loss 100x off)."""
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = qmc.Sobol(DIMS, scramble=True, seed=seed).random(n)
    optimum, weight = rng.uniform(0.2, 0.8, DIMS), rng.uniform(0.3, 1.0, DIMS)
    true = 0.1 + 0.6 * (1 - np.exp(-3 * ((u - optimum) ** 2 * weight).sum(axis=1)))
    seen = true + noise * rng.standard_normal(n)
    seen[rng.random(n) < outliers] = 100.0
    trials = [
        TrialRecord(
            i, "complete", float(seen[i]), {p: float(u[i, j]) for j, p in enumerate(SPACE)}
        )
        for i in range(n)
    ]
    return StudyRecord("planted", {}, "minimize", "val_error", SPACE, trials), true


def rates(n: int, noise: float, outliers: float = 0.0) -> dict[str, tuple[float, float]]:
    """Per rule: (share of seeds picking the truly best of the top five, mean true regret
    of the pick against it)."""
    out = {}
    for rule in ("observed", "discounted"):
        hits, regrets = [], []
        for seed in SEEDS:
            study, true = planted(seed, n, noise, outliers)
            top = [t.number for t in study.ranked()[:5]]
            truly = min(top, key=lambda i: true[i])
            found = candidate_trial(study)
            assert found is not None
            pick = study.ranked()[0].number if rule == "observed" else found[0].number
            hits.append(pick == truly)
            regrets.append(true[pick] - true[truly])
        out[rule] = (float(np.mean(hits)), float(np.mean(regrets)))
    return out


@pytest.mark.parametrize("noise", [0.03, 0.06])
def test_the_discounted_pick_is_truly_best_more_often_when_noise_matters(noise):
    r = rates(40, noise)
    # measured (200 seeds): 66.5% -> 70.5% and 45.5% -> 49.5%; regret 0.0095 -> 0.0080 and
    # 0.026 -> 0.021
    assert r["discounted"][0] > r["observed"][0] and r["discounted"][1] < r["observed"][1], r


def test_with_little_noise_it_costs_next_to_nothing():
    r = rates(40, 0.01)  # measured: 89.5% -> 89.5%, regret 0.00086 -> 0.00074
    assert r["discounted"][0] >= r["observed"][0] - 0.02 and r["discounted"][1] < 0.002, r


def test_trials_that_nearly_diverged_do_not_bend_the_choice():
    # ranks of the better half, not values: a loss of 100 is just last (68.5% -> 72.5%)
    r = rates(40, 0.03, outliers=0.1)
    assert r["discounted"][0] >= r["observed"][0], r


def test_too_few_trials_for_the_fit_keeps_the_best_observed():
    study, _ = planted(0, 8, 0.03)  # the fit over 4 params needs 11
    found = candidate_trial(study)
    assert found is not None and found[0].number == study.ranked()[0].number
    assert "too few trials" in found[2]
