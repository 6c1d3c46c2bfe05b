"""The density check's recall and false alarms on planted studies, 40 seeds a case.

Quiet where the study is well sampled (a smooth bowl, sixteen trials; round_1's ten trials
over two params); firing where the best region was hit once (a narrow dip under one trial)
or too few trials were run for the params tuned.
"""

from __future__ import annotations

from orchestrator.analysis.space_checks import density
from orchestrator.config.sections import AnalysisConfig
from tests.analysis_tests.planted import bowl_study, planted_study, rate

CFG = AnalysisConfig()


def fires(study) -> bool:
    return any(f.kind == "density" for f in density(study, CFG))


def test_quiet_on_well_sampled_one_parameter_bowls():
    assert rate(lambda seed: fires(bowl_study(seed))) <= 0.05


def test_quiet_on_well_sampled_bowls_without_a_known_validation_size():
    assert rate(lambda seed: fires(bowl_study(seed, val_examples=None))) <= 0.05


def test_quiet_at_round_1s_budget_with_an_interior_optimum():
    assert rate(lambda seed: fires(planted_study(seed, 0.5))) <= 0.05


def test_fires_when_a_narrow_optimum_was_hit_by_one_trial():
    assert rate(lambda seed: fires(bowl_study(seed, width=0.01))) >= 0.95


def test_fires_when_too_few_trials_were_run_for_the_params_tuned():
    assert rate(lambda seed: fires(planted_study(seed, 0.5, trials=6))) >= 0.95
