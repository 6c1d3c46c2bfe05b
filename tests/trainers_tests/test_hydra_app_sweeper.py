"""A Hydra app written for hydra-optuna-sweeper, as the trainer: its sweeper and launcher
selections (plugins not installed here) do not stop it composing or training, its
``hydra.sweeper`` reads as a round's search space, and Hydra's messages reach the user
whole, with no migration warning of the orchestrator's own.

The app is ``tests/support/tiny_app`` with its ``sweep`` config (``override hydra/sweeper:
optuna``, ``override hydra/launcher: joblib_not_installed``).
"""

from __future__ import annotations

import warnings

import pytest
from hydra import version as hydra_version
from hydra.errors import Hydra14MigrationWarning
from omegaconf import OmegaConf

from orchestrator.config.experiment import Experiment
from orchestrator.config.params import ParamSchema
from orchestrator.config.trainer_settings import HydraAppSettings
from orchestrator.exceptions import ConfigError
from orchestrator.trainers.cache import TrainerCache
from orchestrator.trainers.function import resolve_function
from orchestrator.trainers.hydra_app.compose import app_tree, compose_app, located
from orchestrator.trainers.hydra_app.sweep_space import sweep_space
from orchestrator.trainers.protocol import TrialPlace
from orchestrator.trainers.reports import Reports

TARGET = "tests.support.tiny_app.app.main"
LEGACY = "tests.support.tiny_app.legacy_app.main"


def sweep_app(**launch: object) -> HydraAppSettings:
    return HydraAppSettings(target=TARGET, config_name="sweep", **launch)  # type: ignore[arg-type]


@pytest.mark.parametrize("subprocess", [False, True])
def test_an_app_selecting_plugins_not_installed_composes_and_trains(tmp_path, subprocess):
    app, tree, types = app_tree(sweep_app(subprocess=subprocess))
    assert tree["optim"]["lr"] == 0.5 and "hydra" not in tree
    tree["objective"] = {"metric": "loss", "direction": "minimize"}
    exp = Experiment(tree, ParamSchema(types, builtin=False), app, "seed", "trainer.epochs")
    exp = exp.with_values({"optim.lr": 0.2})
    result = TrainerCache().train(exp, Reports("loss", False), TrialPlace("r/s#0", tmp_path / "t"))
    assert result.objective == pytest.approx(0.01 + 0.01)  # the same app, one run
    assert result.curves.eval_step == [1, 2, 3]


def test_the_sweepers_settings_stay_readable_in_the_composed_config():
    composed = compose_app(located(sweep_app()))
    assert composed.hydra.sweeper.direction == "minimize"
    assert composed.hydra.launcher.n_jobs == 4  # the app's own keys, the plugin left out


def test_the_sweepers_search_space_reads_as_the_plugin_samples_it():
    space = sweep_space(compose_app(located(sweep_app())))
    assert space.nuisance == {
        "optim.lr": {"low": 0.001, "high": 1.0, "log": True},
        "optim.momentum": {"low": 0.5, "high": 0.99},
        "trainer.epochs": {"low": 1, "high": 6, "step": 1},
        "seed": {"choices": [1, 2, 3]},
        "width": {"low": 8, "high": 64},  # int(interval(...)): an int range
        "act": {"choices": ["relu", "tanh"]},
    }
    assert space.fixed == {"fail": False}
    assert type(space.nuisance["width"]["low"]) is int
    assert type(space.nuisance["optim.momentum"]["low"]) is float
    assert (space.direction, space.n_trials, space.seed) == ("minimize", 30, 7)
    assert space.study_name == "tiny sweep"


@pytest.mark.parametrize(
    ("sweeper", "key", "says"),
    [
        ({"params": {"optim.lr": "interval(0.1,"}}, "hydra.sweeper.params.optim.lr",
         "does not parse"),
        ({"params": {"x": "glob(*)"}}, "hydra.sweeper.params.x", "does not take"),
        ({"direction": "minimize"}, "hydra.sweeper.params", "no sweeper search space"),
    ],
)  # fmt: skip
def test_a_search_space_that_cannot_be_read_is_one_error_naming_the_key(sweeper, key, says):
    with pytest.raises(ConfigError) as err:
        sweep_space(OmegaConf.create({"hydra": {"sweeper": sweeper}}))
    assert err.value.key == key and says in str(err.value)


def test_hydras_whole_message_reaches_the_user():
    with pytest.raises(ConfigError) as err:
        app_tree(HydraAppSettings(target=TARGET, overrides=("optim=adam",)))
    said = str(err.value)
    assert "Could not find 'optim/adam'" in said
    assert "Available options in 'optim'" in said and "sgd" in said  # past its first line


def test_composing_a_legacy_app_warns_nothing_of_ours_and_keeps_its_1_1_base():
    resolve_function(LEGACY)  # the app's own import: its warning is the app's business
    before = hydra_version.getbase()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app, _, _ = app_tree(HydraAppSettings(target=LEGACY))
    assert app.version_base == "1.1"  # its Hydra 1.1 behaviour kept (chdir: see test_hydra_app)
    assert not [w for w in caught if issubclass(w.category, Hydra14MigrationWarning)]
    assert hydra_version.getbase() == before  # the process's version base left as it was
