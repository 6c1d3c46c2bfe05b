"""Racing on planted truth: a value clearly behind stops at half its budget; a value that
is as good, or better, never does.

Planted: two scientific values tuned over the same scrambled Sobol points of a log
learning rate and a linear momentum (as an exploration round's studies are), a
saturating error with independent noise 0.05 per trial, one value worse by ``delta``.
Each case is a pure function of its seed; the rates are counts over 40 seeds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import qmc

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.racing import behind, first_trials
from tests.analysis_tests.planted import SPACE, value_at

SEEDS = range(40)


def planted_pair(seed: int, delta: float, trials: int = 12) -> list[StudyRecord]:
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = qmc.Sobol(2, scramble=True, seed=seed).random(trials)
    optimum = rng.uniform(0.3, 0.7, 2)
    bowl = ((u - optimum) ** 2).sum(axis=1)
    bowl = bowl / max(float(np.ptp(bowl)), 1e-12)
    studies = []
    for name, offset in (("r/v=good", 0.0), ("r/v=worse", delta)):
        error = 0.1 + offset + 0.6 * (1 - np.exp(-2 * bowl)) + 0.05 * rng.standard_normal(trials)
        records = [
            TrialRecord(i, "complete", float(error[i]), {
                "optimizer.lr": value_at("optimizer.lr", lr),
                "optimizer.momentum": value_at("optimizer.momentum", m),
            })
            for i, (lr, m) in enumerate(u)
        ]  # fmt: skip
        studies.append(StudyRecord(name, {"v": name}, "minimize", "val_error", SPACE, records))
    return studies


def stop_rate(delta: float) -> tuple[float, float]:
    """(share of seeds stopping the worse value, share stopping the good one) at half."""
    worse = good = 0
    for seed in SEEDS:
        stopped = behind([first_trials(s, 6) for s in planted_pair(seed, delta)])
        worse += "r/v=worse" in stopped
        good += "r/v=good" in stopped
    return worse / len(SEEDS), good / len(SEEDS)


def test_equal_values_are_almost_never_stopped_and_the_better_one_never():
    for delta in (0.0, 0.05):
        worse, good = stop_rate(delta)
        assert good == 0.0, delta  # the better (or equal) value runs its budget
        assert worse <= 0.05, (delta, worse)


@pytest.mark.parametrize("delta, at_least", [(0.3, 0.25), (0.5, 0.7)])  # measured 35%, 78%
def test_a_value_clearly_behind_stops_at_half_its_budget(delta, at_least):
    worse, good = stop_rate(delta)
    assert worse >= at_least and good == 0.0, (delta, worse)


def test_the_decision_reads_only_the_first_half_so_it_is_the_same_when_resumed():
    full = planted_pair(3, 0.5)
    assert behind([first_trials(s, 6) for s in full]) == behind(
        [first_trials(s, 6) for s in planted_pair(3, 0.5, trials=12)]
    )
    assert len(first_trials(full[0], 6).trials) == 6
