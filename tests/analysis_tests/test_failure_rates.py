"""The ``failed`` check on planted failures: recall and false alarms, 40 seeds a case.

Measured over 200 seeds (``planted_failures.py``: 15 trials over a log learning rate and
three activations): a value at which every trial fails (``KeyError: 'swish'``) is found
and dropped in 100% of rounds (also with a flaky error striking 10% of the other trials);
in 9-trial rounds, where Sobol gives a value only two trials now and then, 76.5% (a value
needs three failed trials before it "always fails"). Failures above 70% of the learning
rate's range are trimmed in 100%. A flaky error striking any trial at 10 / 20 / 30% is
placed at a value or a range end (a false claim) in 1.5% / 1% / 0.5% of rounds, and
beside a failing value at 20%, in 2.5%. No failure, no finding (0%).
"""

from __future__ import annotations

from orchestrator.analysis.failures import failed
from orchestrator.config.sections import AnalysisConfig
from tests.analysis_tests.planted import rate
from tests.analysis_tests.planted_failures import FLAKY, failing_study, lr_at

CFG = AnalysisConfig()


def drops_swish(study) -> bool:
    return any(
        f.param == "act" and f.suggestion.get("drop") == ["swish"] for f in failed(study, CFG)
    )


def trims_lr(study) -> bool:
    return any(
        f.param == "lr" and lr_at(0.5) <= f.suggestion.get("high", 0) <= lr_at(0.7)
        for f in failed(study, CFG)
    )


def claims_a_place(study) -> bool:
    return any(f.param is not None for f in failed(study, CFG) if FLAKY in f.message)


def test_a_value_that_always_fails_is_found_and_dropped():
    assert rate(lambda seed: drops_swish(failing_study(seed, bad_act="swish"))) == 1.0
    assert rate(lambda seed: drops_swish(failing_study(seed, bad_act="swish", flaky=0.1))) >= 0.95


def test_failures_at_one_end_of_a_range_trim_it_to_where_trials_ran():
    assert rate(lambda seed: trims_lr(failing_study(seed, fail_above=0.7))) >= 0.95
    assert rate(lambda seed: trims_lr(failing_study(seed, fail_above=0.7, flaky=0.1))) >= 0.95


def test_a_flaky_error_is_counted_but_rarely_placed():
    for flaky in (0.1, 0.2, 0.3):
        assert rate(lambda seed, p=flaky: claims_a_place(failing_study(seed, flaky=p))) <= 0.05
    assert rate(lambda s: claims_a_place(failing_study(s, bad_act="swish", flaky=0.2))) <= 0.05
    for seed in range(40):  # but always counted, as one group
        study = failing_study(seed, flaky=0.2)
        n = sum(t.state == "failed" for t in study.trials)
        found = failed(study, CFG)
        assert [f.message.startswith(f"{n} of 15 trials") for f in found] == ([True] if n else [])


def test_no_failure_no_finding():
    assert rate(lambda seed: bool(failed(failing_study(seed), CFG))) == 0.0
