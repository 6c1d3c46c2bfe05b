"""The trainer section checked, and a trial's values as a child's arguments.

Hydra overrides are checked by Hydra's own override parser: what the orchestrator writes
must read back as the same value, for every type a config key can hold.
"""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from orchestrator.config.metric_settings import MetricSettings
from orchestrator.config.sections import MetricsConfig, TrainerConfig
from orchestrator.config.trainer_settings import (
    CommandSettings,
    FunctionSettings,
    HydraAppSettings,
    settings_from,
    settings_of_identity,
)
from orchestrator.exceptions import ConfigError
from orchestrator.trainers.child.arguments import (
    argparse_args,
    changed_values,
    child_arguments,
    hydra_override,
)


@pytest.mark.parametrize(
    "value",
    [0.001, 1e-05, 3, -2, True, False, None, "adam", "1", "it's a:b=c", "a b", [1, 2.5], "",
     float("inf"), ["x", "y z"], "${other.key}", "a\\b", "C:\\dir\\", "it\\'s", "\\\\",
     "^\\d+$", "end\\\n"],
)  # fmt: skip
def test_a_hydra_override_reads_back_as_the_same_value(value):
    parsed = OverridesParser.create().parse_overrides([hydra_override("optim.lr", value)])[0]
    assert parsed.key_or_group == "optim.lr"
    assert parsed.value() == value


def test_argparse_flags_follow_argparse_conventions():
    args = argparse_args(
        {"lr": 0.1, "batch-size": 64, "amp": True, "compile": False, "tag": None, "dims": [1, 2]}
    )
    assert args == ["--lr", "0.1", "--batch-size", "64", "--amp", "--dims", "1", "2"]


def test_a_command_gets_every_key_but_the_objective_in_its_own_names():
    tree = {"lr": 0.1, "model": {"depth": 3}, "objective": {"metric": "acc"}, "seed": 1}
    hydra = child_arguments("hydra", tree)
    argparse = child_arguments("argparse", tree)
    assert hydra == ["lr=0.1", "model.depth=3", "seed=1"]
    assert argparse == ["--lr", "0.1", "--model.depth", "3", "--seed", "1"]


def test_only_values_that_differ_from_the_apps_defaults_are_overridden():
    defaults = {"optim": {"lr": 0.001, "max_lr": "${optim.lr}"}, "seed": 1, "tags": [1]}
    tree = {**defaults, "optim": {"lr": 0.01, "max_lr": "${optim.lr}"}, "objective": {"m": 1}}
    assert changed_values(tree, defaults) == {"optim.lr": 0.01}


def test_identity_keeps_a_functions_bare_path_as_older_stores_recorded_it():
    assert FunctionSettings(target="pkg.train").identity() == "pkg.train"
    assert HydraAppSettings(target="src.train.main").identity() == "hydra_app src.train.main"
    command = CommandSettings(command=("python", "train.py", "--a b"))
    assert command.identity() == "command python train.py '--a b'"


@pytest.mark.parametrize(
    "settings",
    [
        FunctionSettings("pkg.train"),
        HydraAppSettings("src.train.main"),
        CommandSettings(("python", "train.py", "--a b")),
    ],
)
def test_a_stored_identity_reads_back_as_the_trainer_it_names(settings):
    assert settings_of_identity(settings.identity()) == settings


@pytest.mark.parametrize(
    ("section", "key", "says"),
    [
        (TrainerConfig(kind="script"), "trainer.kind", "function, hydra_app, command"),
        (TrainerConfig(kind="command"), "trainer.command", "needs the command line"),
        (TrainerConfig(kind="command", command="python 'x"), "trainer.command", "cannot split"),
        (TrainerConfig(command="python x.py"), "trainer.command", "trainer.kind=command"),
        (TrainerConfig(kind="command", command="x", args="click"), "trainer.args", "argparse"),
        (TrainerConfig(kind="command", command="x", timeout=0), "trainer.timeout", "> 0"),
        (TrainerConfig(kind="command", command="x", grace=-1), "trainer.grace", ">= 0"),
        (TrainerConfig(overrides=["a=1"]), "trainer.overrides", "hydra_app only"),
        (TrainerConfig(curves={"loss": "x"}), "trainer.curves.loss", "train_loss, lr"),
        (TrainerConfig(kind="hydra_app", timeout=60), "trainer.timeout", "child process"),
        (TrainerConfig(curves={"val_loss": ""}), "trainer.curves.val_loss", "must name"),
        (TrainerConfig(kind="command", command="x", subprocess=True), "trainer.subprocess",
         "hydra_app only"),
        (TrainerConfig(kind="command", command="x", metrics=MetricsConfig(lines=["loss (\\d"])),
         "trainer.metrics.lines[0]", "neither a preset (json, key_value, columns) nor a regex"),
        (TrainerConfig(kind="command", command="x",
                       metrics=MetricsConfig(lines=["json", r"loss (\d+)"])),
         "trainer.metrics.lines[1]", "has no named group"),
        (TrainerConfig(kind="command", command="x", metrics=MetricsConfig(csv=" ")),
         "trainer.metrics.csv", "must name a path"),
        (TrainerConfig(metrics=MetricsConfig(lines=["key_value"])), "trainer.metrics",
         "is for trainer.kind=command"),
    ],
)  # fmt: skip
def test_a_bad_trainer_section_is_one_error_naming_the_key(section, key, says):
    with pytest.raises(ConfigError) as err:
        settings_from(section)
    assert err.value.key == key and says in str(err.value)


def test_a_rounds_trainer_wins_over_the_sections_target():
    settings = settings_from(TrainerConfig(), "pkg.other")
    assert isinstance(settings, FunctionSettings) and settings.target == "pkg.other"


def test_each_kind_keeps_only_its_own_settings():
    command = settings_from(TrainerConfig(kind="command", command="python t.py", timeout=9))
    assert command == CommandSettings(("python", "t.py"), timeout=9)
    app = settings_from(TrainerConfig(kind="hydra_app", _target_="a.main", overrides=["x=1"]))
    assert app == HydraAppSettings("a.main", overrides=("x=1",))


def test_a_commands_metric_sources_are_kept_in_its_settings():
    metrics = MetricsConfig(lines=["columns", r"loss (?P<loss>\S+)"], tensorboard="runs")
    command = settings_from(TrainerConfig(kind="command", command="x", metrics=metrics))
    assert isinstance(command, CommandSettings)
    assert command.metrics == MetricSettings(("columns", r"loss (?P<loss>\S+)"), "runs", None)
    assert command.identity() == "command x"  # the store's identity does not change
