"""The incumbent remembers its trainer: another trainer never silently inherits it."""

from __future__ import annotations

import pytest

from orchestrator.config.experiment import Experiment, builtin_experiment
from orchestrator.config.params import ParamSchema
from orchestrator.exceptions import ConfigError
from orchestrator.store.incumbent import read_incumbent, starting_config, write_incumbent
from orchestrator.store.record import config_hash


def test_an_incumbent_of_another_trainer_is_refused_for_training_and_read_for_analysis(tmp_path):
    mine = builtin_experiment(trainer="tests.support.trainers.analytic").with_values(
        {"optimizer.lr": 0.3}
    )
    write_incumbent(tmp_path, mine, "round_1", {})
    other = builtin_experiment(trainer="tests.support.trainers.noisy")
    with pytest.raises(ConfigError, match="promoted with trainer tests.support.trainers.analytic"):
        starting_config("incumbent", other, tmp_path)
    start, _ = starting_config("incumbent", other, tmp_path, trains=False)
    assert start.get("optimizer.lr") == 0.3
    same, origin = starting_config("incumbent", mine, tmp_path)
    assert same.tree == mine.tree and "promoted by round_1" in origin


def test_the_config_hash_includes_the_trainer():
    a = builtin_experiment(trainer="a.train")
    assert config_hash(a) != config_hash(builtin_experiment(trainer="b.train"))
    assert config_hash(a) == config_hash(builtin_experiment(trainer="a.train"))


def test_an_incumbent_of_another_experiment_is_refused(tmp_path):
    write_incumbent(tmp_path, builtin_experiment(), "round_1", {})
    objective = {"metric": "m", "direction": "minimize"}
    own = Experiment({"objective": objective}, ParamSchema({}, builtin=False))
    incumbent = read_incumbent(tmp_path)
    assert incumbent is not None
    with pytest.raises(ConfigError, match="holds keys your config does not have"):
        incumbent.experiment(own)


def test_a_hand_made_partial_incumbent_takes_the_rest_from_the_base(tmp_path):
    (tmp_path / "incumbent.yaml").write_text("optimizer: {lr: 0.05}\n")
    start, origin = starting_config("incumbent", builtin_experiment(), tmp_path)
    assert start.get("optimizer.lr") == 0.05 and start.get("model.depth") == 2
    assert "promoted by hand" in origin
