"""Reconciling the checks' advice: one training length, readable values that stay valid,
and no widening toward a side that diverged in any study."""

from __future__ import annotations

from orchestrator.analysis.advice import one_advice_per_param, readable, readable_accepted
from orchestrator.store.findings import Finding


def test_the_training_length_gets_one_advice():
    budget = Finding("step_budget", "info", "longer.", None, None, {"train.steps": 600})
    saturated = Finding("saturated_early", "info", "fewer.", "s", None, {"train.steps": 100})
    out = one_advice_per_param([budget, saturated])
    assert out[0] == budget
    assert out[1].suggestion == {} and "step budget's to set" in out[1].message
    assert one_advice_per_param([saturated]) == [saturated]


def test_values_round_to_three_digits_without_float_error():
    assert readable(0.48314499531900024) == 0.483
    assert readable(0.57, "down") == 0.57 and readable(0.7, "down") == 0.7
    assert readable(0.0101, "up") == 0.0101
    assert readable(0.87719, "down") == 0.877 and readable(0.87711, "up") == 0.878
    assert readable(-0.01234, "down") == -0.0124
    assert readable(7) == 7 and readable("adam") == "adam"


def test_a_rounded_value_the_schema_rejects_is_kept_as_it_is():
    assert readable_accepted("optimizer.momentum", 0.9996) == 0.9996  # 1.0 is refused
    assert readable_accepted("optimizer.momentum", 0.91234) == 0.912


def test_a_side_that_diverged_in_one_study_is_widened_in_none():
    widen = Finding("boundary", "warn", "widen.", "s1", "optimizer.lr", {"high": 10.0})
    trim = Finding("infeasible", "warn", "diverged.", "s2", "optimizer.lr",
                   {"param": "optimizer.lr", "high": 0.5691})  # fmt: skip
    out = one_advice_per_param([widen, trim])
    assert out[0].suggestion == {} and "not widened" in out[0].message
    assert out[1].suggestion == {"param": "optimizer.lr", "high": 0.569}  # rounded inward
