"""The curve checks' recall and false alarms on planted curves, 40 seeds a case.

The rates are the README's analysis table. Each case is shaped like the default training
(300 steps; evaluations every 50, or every 25 where a late window needs points).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.analysis.curve_checks import curve_checks_for
from orchestrator.analysis.model import TrialRecord
from orchestrator.config.sections import AnalysisConfig
from tests.analysis_tests import planted_curves as planted
from tests.analysis_tests.planted import rate

CFG = AnalysisConfig()


def kinds(trial: TrialRecord, examples: int | None = None) -> set[str]:
    return {
        f.kind for check in curve_checks_for("val_error", examples) for f in check(trial, "s", CFG)
    }


def fires(kind: str, make: Callable[[int], TrialRecord], examples: int | None = None):
    return rate(lambda seed: kind in kinds(make(seed), examples))


def test_clean_curves_raise_nothing():
    assert rate(lambda seed: bool(kinds(planted.clean(seed)))) == 0.0


def test_a_flat_noisy_validation_curve_is_not_overfitting():
    assert fires("overfitting", lambda s: planted.flat_noisy_val(s, noise=0.02)) <= 0.05
    # noise near the 0.05 threshold itself: rarer still than the old rule's 30-47%
    assert fires("overfitting", lambda s: planted.flat_noisy_val(s, noise=0.04)) <= 0.1


@pytest.mark.parametrize("every", [50, 30])
def test_real_overfitting_is_found(every):
    assert fires("overfitting", lambda s: planted.overfitting_val(s, every, 0.01)) >= 0.95


def test_a_curve_still_falling_at_the_end_is_still_improving():
    assert fires("still_improving", planted.still_falling) >= 0.95


def test_swings_of_a_few_validation_images_are_not_late_variance():
    assert fires("late_variance", planted.low_error_small_val, examples=359) <= 0.05
    # without the validation set's size, the half-point floor still holds them
    assert fires("late_variance", planted.low_error_small_val) <= 0.05


def test_a_late_wobble_is_late_variance():
    assert fires("late_variance", planted.late_wobble, examples=1000) >= 0.95


def test_a_loss_drifting_near_zero_is_not_rising():
    assert fires("training_loss_rising", planted.loss_near_zero) <= 0.05


def test_a_loss_climbing_back_is_rising():
    assert fires("training_loss_rising", planted.loss_rising) >= 0.95


def test_the_first_steps_of_a_fresh_network_are_not_instability():
    assert fires("instability", planted.fresh_network_norms) <= 0.05


def test_spikes_after_training_settled_are_instability():
    assert fires("instability", planted.spiking_norms) >= 0.95
