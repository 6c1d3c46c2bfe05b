"""``budget.pruner``: Optuna's pruners by name, checked settings, and the exploration warning."""

from __future__ import annotations

import optuna
import pytest

from orchestrator.config.round import BudgetConfig
from orchestrator.exceptions import ConfigError
from orchestrator.rounds.pruning import check_pruner, make_pruner, pruning_warning
from orchestrator.work.studies import StudySummary, compute_lines


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("none", optuna.pruners.NopPruner),
        ("median", optuna.pruners.MedianPruner),
        ("successive_halving", optuna.pruners.SuccessiveHalvingPruner),
        ("hyperband", optuna.pruners.HyperbandPruner),
        ("wilcoxon", optuna.pruners.WilcoxonPruner),
    ],
)
def test_each_name_builds_optunas_own_pruner(name, cls):
    assert isinstance(make_pruner(BudgetConfig(pruner=name)), cls)


@pytest.mark.parametrize(
    ("budget", "key"),
    [
        (BudgetConfig(pruner="asha"), "pruner"),
        (BudgetConfig(pruner="hyperband", pruner_reduction_factor=1), "pruner_reduction_factor"),
        (BudgetConfig(pruner="median", pruner_warmup_steps=-1), "pruner_warmup_steps"),
        (BudgetConfig(pruner="hyperband", pruner_min_resource=0), "pruner_min_resource"),
    ],
)  # fmt: skip
def test_a_bad_pruner_setting_is_one_error_naming_the_key(budget, key):
    with pytest.raises(ConfigError) as err:
        check_pruner(budget)
    assert err.value.key == f"round.budget.{key}"


def test_pruning_in_an_exploration_round_is_warned_about_in_the_header():
    assert pruning_warning(BudgetConfig(sampler="tpe", pruner="hyperband"), False) is None
    assert pruning_warning(BudgetConfig(sampler="qmc", pruner="none"), True) is None
    qmc = pruning_warning(BudgetConfig(sampler="qmc", pruner="hyperband"), False)
    assert qmc is not None and "exploration round (sampler qmc)" in qmc
    sci = pruning_warning(BudgetConfig(sampler="tpe", pruner="median"), True)
    assert sci is not None and "exploration round (scientific values)" in sci


def test_the_summary_says_what_compute_was_spent_and_what_pruning_saved():
    a = StudySummary("r/a", {}, 10, pruned=3, steps=700, seconds=12.5, saved_steps=300)
    b = StudySummary("r/b", {}, 10, pruned=0, steps=1000, seconds=20.0, saved_steps=0)
    assert compute_lines([a, b], "hyperband") == [
        "  compute (pruner hyperband):",
        "  r/a        700 steps      12.5 s    3 pruned        300 steps saved",
        "  r/b      1,000 steps      20.0 s    0 pruned          0 steps saved",
        "  pruning saved 300 of 2,000 steps (15%) that the round would have trained without it",
    ]
