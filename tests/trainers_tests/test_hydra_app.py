"""A Hydra app as the trainer, called in the worker and in a process of its own.

The app (``tests/support/tiny_app``) is unchanged Hydra code: its own config dir, its own
``trainer`` group, an interpolation into a tuned key, ``${hydra:runtime.output_dir}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig

from orchestrator.config.experiment import Experiment
from orchestrator.config.params import ParamSchema
from orchestrator.config.trainer_settings import HydraAppSettings
from orchestrator.exceptions import ConfigError
from orchestrator.trainers.cache import TrainerCache
from orchestrator.trainers.hydra_app.compose import app_tree
from orchestrator.trainers.protocol import TrialPlace
from orchestrator.trainers.reports import Reports

TARGET = "tests.support.tiny_app.app.main"
WRAPPED = "tests.support.tiny_app.wrapped_app.main"
LEGACY = "tests.support.tiny_app.legacy_app.main"
CONFIGS = Path(__file__).parents[1] / "support" / "tiny_app" / "configs"
OBJECTIVE = {"metric": "loss", "direction": "minimize"}


def app_experiment(**launch: object) -> Experiment:
    located, tree, types = app_tree(HydraAppSettings(target=TARGET, **launch))  # type: ignore[arg-type]
    tree["objective"] = dict(OBJECTIVE)
    return Experiment(tree, ParamSchema(types, builtin=False), located, "seed", "trainer.epochs")


def seen(place: Path) -> dict:
    return json.loads((place / "seen.json").read_text())


def test_the_apps_tree_is_the_experiment_in_its_own_names():
    exp = app_experiment()
    assert exp.tree["optim"] == {"lr": 0.5, "max_lr": "${optim.lr}", "momentum": 0.9}
    assert exp.tree["trainer"] == {"epochs": 3}  # the app's own `trainer` group
    assert exp.tree["paths"]["output_dir"] == "${hydra:runtime.output_dir}"
    assert exp.schema.type_of("optim.lr").base is float
    assert exp.trainer_settings.config_dir == str(
        Path(__file__).parents[1] / "support" / "tiny_app" / "configs"
    )
    assert exp.trainer_settings.config_name == "main"


def test_a_trial_sets_its_values_and_the_apps_interpolations_follow(tmp_path):
    exp = app_experiment(overrides=("trainer=long",)).with_values({"optim.lr": 0.2, "seed": 9})
    reports = Reports("loss", False)
    hydra_before = HydraConfig.instance().cfg
    result = TrainerCache().train(exp, reports, TrialPlace("r/s#0", tmp_path / "t"))
    cfg = seen(tmp_path / "t")["cfg"]
    assert cfg["optim"]["lr"] == 0.2 and cfg["optim"]["max_lr"] == 0.2  # ${optim.lr} followed
    assert cfg["seed"] == 9 and cfg["trainer"]["epochs"] == 6  # the fixed override applied
    assert cfg["paths"]["output_dir"] == str(tmp_path / "t")
    assert result.objective == pytest.approx(0.01 + 0.01)  # the returned last loss
    assert result.curves.eval_step == [1, 2, 3, 4, 5, 6]
    assert reports.values["max_lr"][1] == 0.2
    assert HydraConfig.instance().cfg is hydra_before  # the orchestrator's own state back
    assert not GlobalHydra.instance().is_initialized()


def test_the_app_runs_in_its_output_dir_when_its_config_says_chdir(tmp_path):
    exp = app_experiment(overrides=("hydra.job.chdir=true",))
    TrainerCache().train(exp, Reports("loss", False), TrialPlace("r/s#0", tmp_path / "t"))
    assert seen(tmp_path / "t")["cwd"] == str(tmp_path / "t")
    assert Path.cwd() != tmp_path / "t"


def test_an_apps_exception_fails_the_trial_and_restores_the_state(tmp_path):
    exp = app_experiment().with_values({"fail": True})
    before = HydraConfig.instance().cfg
    with pytest.raises(RuntimeError, match="on purpose"):
        TrainerCache().train(exp, Reports("loss", False), TrialPlace("r/s#0", tmp_path / "t"))
    assert HydraConfig.instance().cfg is before


def test_an_app_in_its_own_process_gives_the_same_answer(tmp_path):
    exp = app_experiment(subprocess=True).with_values({"optim.lr": 0.2})
    reports = Reports("loss", False)
    result = TrainerCache().train(exp, reports, TrialPlace("r/s#0", tmp_path / "t"))
    assert result.objective == pytest.approx(0.01 + 0.01 * 3 / 3)
    assert result.curves.eval_step == [1, 2, 3]
    cfg = seen(tmp_path / "t")["cfg"]
    assert cfg["optim"]["max_lr"] == 0.2
    assert (tmp_path / "t" / ".hydra" / "overrides.yaml").read_text() == "- optim.lr=0.2\n"


@pytest.mark.parametrize(
    ("launch", "key", "says"),
    [
        (dict(overrides=("optim=adam",)), "trainer.overrides", "does not compose"),
        (dict(config_name="nope"), "trainer.config_name", "does not compose"),
        (dict(config_dir="/nonexistent"), "trainer.config_path", "is not a directory"),
        (dict(target="tests.support.trainers.analytic"), "trainer._target_",
         "not a @hydra.main function"),
        (dict(target="tests.support.tiny_app.nope.main"), "trainer._target_", "cannot import"),
    ],
)  # fmt: skip
def test_an_app_that_cannot_be_composed_is_one_error(launch, key, says):
    with pytest.raises(ConfigError) as err:
        app_tree(HydraAppSettings(**{"target": TARGET, **launch}))  # type: ignore[arg-type]
    assert err.value.key == key and says in str(err.value)


def test_during_a_trial_hydra_is_the_apps_own(tmp_path):
    exp = app_experiment(overrides=("+hydra.job.env_set.TINY_ENV=hello",))
    exp = exp.with_values({"optim.lr": 0.2, "seed": 3})
    TrainerCache().train(exp, Reports("loss", False), TrialPlace("r/s#0", tmp_path / "t"))
    seen_by_app = seen(tmp_path / "t")
    assert seen_by_app["task_overrides"] == ["seed=3", "optim.lr=0.2"]
    assert seen_by_app["override_dirname"] == "optim.lr=0.2,seed=3"
    assert seen_by_app["composed_momentum"] == 0.9  # compose() inside the app finds its config
    assert seen_by_app["env"] == "hello" and "TINY_ENV" not in os.environ
    assert not GlobalHydra.instance().is_initialized()  # the orchestrator's state is back


def test_an_app_whose_task_is_wrapped_is_found_by_its_own_file():
    located, tree, _ = app_tree(HydraAppSettings(target=WRAPPED))
    assert located.config_dir == str(
        Path(__file__).parents[1] / "support" / "tiny_app" / "configs"
    )
    assert tree["optim"]["lr"] == 0.5


def test_an_app_without_a_version_base_runs_in_its_output_dir_as_hydra_1_1_would(tmp_path):
    located, tree, types = app_tree(HydraAppSettings(target=LEGACY))
    assert located.version_base == "1.1"
    tree["objective"] = dict(OBJECTIVE)
    exp = Experiment(tree, ParamSchema(types, builtin=False), located, None, None)
    TrainerCache().train(exp, Reports("loss", False), TrialPlace("r/s#0", tmp_path / "t"))
    assert (tmp_path / "t" / "cwd.txt").read_text() == str(tmp_path / "t")
    assert Path.cwd() != tmp_path / "t"
