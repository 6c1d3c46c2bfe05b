"""A param is fixed only on evidence: measured on planted truth over many seeds.

Planted: four tuned params whose effects on the error weigh 1, 0.5, 0.2 and 0 (the last
one does not matter), sampled by scrambled Sobol as an exploration round is, with noise.
Fixing a param that matters loses configurations the next round could reach, so the rate
that counts is how often a param that matters is fixed; the price is how rarely the
irrelevant one is. The rates measured here are the ones the README states.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import qmc

from orchestrator.analysis.importance import importance
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.config.sections import AnalysisConfig

WEIGHTS = (1.0, 0.5, 0.2, 0.0)
PATHS = tuple(f"net.p{i}" for i in range(len(WEIGHTS)))
SPACE = {p: [{"low": 0.0, "high": 1.0}] for p in PATHS}
SEEDS = range(20)


def planted(
    seed: int, n: int, weights: tuple[float, ...] = WEIGHTS, noise: float = 0.05
) -> StudyRecord:
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Sobol's balance wants a power of two
        u = qmc.Sobol(len(weights), scramble=True, seed=seed).random(n)
    optimum = rng.uniform(0.2, 0.8, len(weights))
    bowl = sum(w * (u[:, j] - optimum[j]) ** 2 for j, w in enumerate(weights))
    error = 0.1 + 0.3 * bowl / max(float(np.ptp(bowl)), 1e-12) + noise * rng.standard_normal(n)
    trials = [
        TrialRecord(
            i,
            "complete",
            float(error[i]),
            {p: float(u[i, j]) for j, p in enumerate(PATHS[: len(weights)])},
        )
        for i in range(n)
    ]
    space = {p: SPACE[p] for p in PATHS[: len(weights)]}
    return StudyRecord("planted", {}, "minimize", "val_error", space, trials)


def fixed_rates(n: int, weights: tuple[float, ...] = WEIGHTS, noise: float = 0.05) -> list[float]:
    """Per param, the share of seeds whose importance finding suggests fixing it."""
    counts = [0] * len(weights)
    for seed in SEEDS:
        for f in importance(planted(seed, n, weights, noise), AnalysisConfig()):
            if f.suggestion:
                counts[PATHS.index(str(f.param))] += 1
    return [c / len(SEEDS) for c in counts]


@pytest.mark.parametrize("n", [13, 26, 40])
def test_a_param_that_matters_is_fixed_in_at_most_10_percent_of_rounds(n):
    rates = fixed_rates(n)
    assert max(rates[:3]) <= 0.10, rates  # measured: 0% at 13, <= 7% at 26 and 40


def test_too_few_trials_per_param_never_fix_and_say_why():
    findings = importance(planted(0, 13), AnalysisConfig())
    assert findings and not any(f.suggestion for f in findings)
    assert all("too few to call a param negligible" in f.message or "not stable" in f.message
               for f in findings)  # fmt: skip


def test_an_irrelevant_param_beside_a_dominant_one_is_sometimes_fixed():
    # the price of the guard: measured 20% of rounds at 40 trials with little noise
    # (0.01), 5% with the noise above; a param that matters: never
    rates = fixed_rates(40, weights=(1.0, 0.0), noise=0.01)
    assert rates[0] == 0.0 and rates[1] >= 0.1, rates
