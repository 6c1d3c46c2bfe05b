"""A round over the user's own keys: paths, types (declared or from defaults), errors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.schema import CONF_DIR, register_configs
from orchestrator.exceptions import ConfigError
from orchestrator.rounds.validate import parse_round
from orchestrator.store.record import config_hash
from orchestrator.trainers.configured import experiment_from_cfg


class Act(Enum):
    relu = 1
    gelu = 2


@dataclass
class Net:
    width: int = 32
    act: Act = Act.relu
    scale: float | None = None


def own_experiment(tmp_path, yaml_text: str, *overrides: str):
    """Compose an own primary config (in ``tmp_path``) that includes ours."""
    register_configs()
    ConfigStore.instance().store(group="net", name="schema", node=Net)  # the user's schema
    (tmp_path / "mine.yaml").write_text(yaml_text)
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        pass
    with initialize_config_dir(str(tmp_path), version_base="1.3"):
        cfg = compose("mine", overrides=list(overrides))
    return experiment_from_cfg(cfg)


PLAIN = f"""
defaults: [orchestrator, _self_]
hydra: {{searchpath: ["file://{CONF_DIR}"]}}
trainer: {{_target_: tests.support.trainers.analytic, seed_key: seed, length_key: epochs}}
layers: 2
lr: 0.1
tag: a
extra: null
epochs: 10
seed: 0
"""


def test_plain_yaml_keys_are_typed_from_their_defaults(tmp_path):
    e = own_experiment(tmp_path, PLAIN)
    assert not e.builtin and e.trainer == "tests.support.trainers.analytic"
    rnd = parse_round(
        RoundConfig(
            name="r",
            scientific={"layers": [1, 2, 3]},
            nuisance={
                "lr": {"low": 1, "high": 2},  # ints given for a float: widened
                "extra": {"low": 1, "high": 4},  # null default: ints make an int range
                "tag": {"choices": ["a", "b"]},
            },
        ),
        e,
    )
    space = rnd.search_space()
    assert space["lr"] == FloatDistribution(1.0, 2.0)
    assert space["extra"] == IntDistribution(1, 4)
    assert space["tag"] == CategoricalDistribution(("a", "b"))
    assert rnd.study_name(rnd.points()[0]) == "r/layers=1"
    with pytest.raises(ConfigError, match=r"round.scientific.layers\[1\]: layers takes an int"):
        parse_round(RoundConfig(name="r", scientific={"layers": [1, "two"]}), e)
    # an int default from plain YAML is an int: a float for it is refused, with the way on
    # (a trainer doing range(cfg.layers) would fail at the first such trial)
    with pytest.raises(ConfigError, match=r"round.nuisance.layers.low: layers takes an int or"):
        parse_round(RoundConfig(name="r", nuisance={"layers": {"low": 0.0, "high": 0.5}}), e)
    for raw in (
        RoundConfig(name="r", scientific={"layers": [1, 2.5]}),
        RoundConfig(name="r", nuisance={"layers": {"choices": [1, 2.5]}}),
        RoundConfig(name="r", fixed={"layers": 2.5}),
    ):
        with pytest.raises(ConfigError, match=r"got 2.5 \(its default in your config is an int;"):
            parse_round(raw, e)
    grid = RoundConfig(
        name="r",
        nuisance={"layers": {"low": 1, "high": 4}},
        budget=BudgetConfig(sampler="grid", grid={"layers": [1, 2.5]}),
    )
    with pytest.raises(ConfigError, match=r"^round.budget.grid.layers\[1\]: layers takes an int"):
        parse_round(grid, e)
    with pytest.raises(ConfigError, match="tag takes a str or null: give choices, not a range"):
        parse_round(RoundConfig(name="r", nuisance={"tag": {"low": 1, "high": 2}}), e)


def test_a_structured_config_of_the_users_gives_the_declared_types(tmp_path):
    text = PLAIN.replace(
        "defaults: [orchestrator, _self_]", "defaults: [orchestrator, {net: schema}, _self_]"
    )
    e = own_experiment(tmp_path, text)
    assert e.schema.type_of("net.width").base is int
    assert e.get("net.act") == "relu" and len(config_hash(e)) == 16  # enums stored by name
    assert e.schema.type_of("net.scale").base is float and e.schema.type_of("net.scale").optional
    rnd = parse_round(RoundConfig(name="r", nuisance={"net.scale": {"low": 1, "high": 2}}), e)
    assert rnd.search_space()["net.scale"] == FloatDistribution(1.0, 2.0)
    with pytest.raises(ConfigError, match="did you mean net.width"):
        parse_round(RoundConfig(name="r", scientific={"net.widht": [1]}), e)


def test_enums_and_mandatory_values_of_a_users_config(tmp_path):
    text = PLAIN.replace("tag: a", "tag: ${oc.env:NO_SUCH_VAR_X,b}")
    e = own_experiment(tmp_path, text + "data: {root: '${paths.studies}/data'}\n")
    assert e.get("tag") == "b"  # interpolations resolved when composed
    assert e.get("data.root") == "studies/data"  # also into the orchestrator's sections
    with pytest.raises(ConfigError, match=r"^extra: is \?\?\? \(mandatory\)"):
        own_experiment(tmp_path, PLAIN.replace("extra: null", "extra: ???"))
    with pytest.raises(ConfigError, match=r"^net.size: is \?\?\? \(mandatory\)"):
        own_experiment(tmp_path, PLAIN + "net:\n  size: ???\n")


def test_an_own_section_of_our_names_keeps_no_built_in_rule(tmp_path):
    text = PLAIN + "model: {activation: silu, depth: 40}\n"
    e = own_experiment(tmp_path, text)
    parse_round(RoundConfig(name="r", scientific={"model.activation": ["silu", "mish"]}), e)
    assert e.get("model.depth") == 40


def test_the_seed_and_length_keys_must_name_integer_keys(tmp_path):
    with pytest.raises(ConfigError, match="trainer.length_key: tag must hold an integer"):
        own_experiment(tmp_path, PLAIN, "trainer.length_key=tag")
    with pytest.raises(ConfigError, match="objective.direction: must be minimize or maximize"):
        own_experiment(tmp_path, PLAIN, "objective.direction=up")
