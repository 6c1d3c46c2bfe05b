"""The README's overrides of our sections work on an own config, without ``+``, and are
checked as a round file is: a budget key, a path switch, a nuisance range's bound."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from orchestrator.config.schema import (
    CONF_DIR,
    own_section_overrides,
    register_configs,
    root_from_cfg,
)
from orchestrator.exceptions import ConfigError
from orchestrator.rounds.validate import parse_round
from orchestrator.trainers.configured import experiment_from_cfg

OWN = f"""
defaults: [orchestrator, _self_]
hydra: {{searchpath: ["file://{CONF_DIR}"]}}
trainer: {{_target_: tests.support.trainers.analytic, seed_key: seed}}
optim: {{lr: 0.1, momentum: 0.9}}
act: relu
seed: 0
"""
ROUND = """
name: mine_1
goal: which activation
scientific: {act: [relu, gelu]}
nuisance:
  optim.lr: {low: 0.001, high: 1.0, log: true}
budget: {trials_per_study: 10}
"""


def composed(tmp_path, *overrides: str):
    register_configs()
    (tmp_path / "mine.yaml").write_text(OWN)
    (tmp_path / "round").mkdir(exist_ok=True)
    (tmp_path / "round" / "mine_1.yaml").write_text(ROUND)
    with initialize_config_dir(str(tmp_path), version_base="1.3"):
        cfg = compose("mine", overrides=own_section_overrides(["round=mine_1", *overrides]))
    root = root_from_cfg(cfg)
    return root, experiment_from_cfg(cfg, root)


def test_budget_paths_and_ranges_take_plain_overrides(tmp_path):
    root, experiment = composed(
        tmp_path,
        "round.budget.workers=2",
        "round.budget.pruner=median",
        "paths.tensorboard=false",
        "round.nuisance.optim.lr.low=0.0001",
        "round.nuisance.optim.momentum.low=0.5",
        "round.nuisance.optim.momentum.high=0.99",
        "round.fixed.seed=3",
    )
    assert root.round is not None
    assert root.round.budget.workers == 2 and root.round.budget.pruner == "median"
    assert root.paths.tensorboard is False
    rnd = parse_round(root.round, experiment)
    (lr,) = rnd.nuisance["optim.lr"]
    assert (lr.low, lr.high, lr.log) == (0.0001, 1.0, True)  # the file's other keys kept
    (momentum,) = rnd.nuisance["optim.momentum"]  # a whole new range from the command line
    assert (momentum.low, momentum.high) == (0.5, 0.99)
    assert rnd.fixed == {"seed": 3}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("round.budget.workerz=2", "round.budget.workerz: Key 'workerz' not in 'BudgetConfig'"),
        ("paths.tensorbord=false", "paths.tensorbord: Key 'tensorbord' not in 'PathsConfig'"),
        (
            "round.nuisance.optim.lr.lo=0.1",
            "round.nuisance.optim.lr: unknown keys ['lo']; valid: low, high, log, step, "
            "choices, when",
        ),
        ("round.nuisance.optim.lr.low=2.0", "round.nuisance.optim.lr: low < high must hold"),
        ("round.scientific.actv=[relu]", "round.scientific.actv: unknown parameter path"),
    ],
)
def test_a_wrong_override_is_one_error_naming_it(tmp_path, override, message):
    with pytest.raises(ConfigError) as err:
        root, experiment = composed(tmp_path, override)
        assert root.round is not None
        parse_round(root.round, experiment)
    assert str(err.value).startswith(message), str(err.value)


def test_only_our_sections_are_rewritten():
    args = ["round=r1", "round.budget.seed=3", "+round.goal=x", "optim.lr=0.2",
            "hydra.verbose=true", "storage.url=sqlite:///x.db", "--config-dir",
            "conf"]  # fmt: skip
    assert own_section_overrides(args) == [
        "round=r1", "++round.budget.seed=3", "+round.goal=x", "optim.lr=0.2",
        "hydra.verbose=true", "++storage.url=sqlite:///x.db", "--config-dir", "conf",
    ]  # fmt: skip
