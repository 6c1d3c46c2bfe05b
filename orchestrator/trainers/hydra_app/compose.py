"""A Hydra application as the trainer: find its config tree, compose it, read its keys.

The app stays as it is: ``@hydra.main(config_path=..., config_name=...)`` on its task
function. Its decorator keeps both (Hydra 1.3's ``hydra/main.py``: ``decorated_main``
closes over ``config_path``, ``config_name`` and ``task_function``, and calling it with a
composed config runs the task function directly), so the orchestrator composes the app's
own tree with Hydra's compose API (its groups, its defaults, its structured configs) and
the app's keys become the experiment: a round names ``model.optimizer.lr`` as the app
does. The orchestrator's own sections live in its config, never in the app's tree, so an
app's ``trainer`` group does not clash with ours. Global Hydra state is saved and restored
around every compose, so the orchestrator's own Hydra run is unaffected.
"""

from __future__ import annotations

import copy
import functools
import inspect
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir, initialize_config_module
from hydra import version as hydra_version
from hydra.core.global_hydra import GlobalHydra
from hydra.core.singleton import Singleton
from hydra.errors import Hydra14MigrationWarning
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException
from packaging.version import Version

from orchestrator.config.node_types import own_types
from orchestrator.config.params import ParamType
from orchestrator.config.trainer_settings import HydraAppSettings
from orchestrator.exceptions import ConfigError
from orchestrator.trainers.child.arguments import NOT_PASSED
from orchestrator.trainers.function import resolve_function
from orchestrator.trainers.hydra_app.run_state import LEGACY_BASE, hydra_config, hydra_state

PLACEHOLDER_DIR = "/tmp/orchestrator-trial"  # ${hydra:runtime.output_dir} while checking


def app_functions(
    target: str,
) -> tuple[Callable[..., Any], Callable[..., Any], Mapping[str, Any]]:
    """The ``@hydra.main`` function at ``target``, its task function and its decorator's
    settings; one ConfigError when ``target`` is not one."""
    main = resolve_function(target)  # its import runs the decorator: it sets the version base
    try:
        settings = inspect.getclosurevars(main).nonlocals
    except TypeError:
        settings = {}
    if "task_function" not in settings or "config_name" not in settings:
        raise ConfigError(
            "trainer._target_",
            f"{target} is not a @hydra.main function (trainer.kind=hydra_app takes the "
            "decorated main of your app); for a plain function use trainer.kind=function",
        )
    return main, settings["task_function"], settings


def located(app: HydraAppSettings) -> HydraAppSettings:
    """``app`` with the app's config dir (absolute) and name filled in: the ones the
    config names, else the decorator's (``config_path`` relative to the app's file)."""
    _, task, settings = app_functions(app.target)
    base = app.version_base or _version_base_set_by_the_app(app.target)
    config_dir = app.config_dir
    if config_dir is None:
        declared = settings.get("config_path")
        if declared is None:
            raise ConfigError(
                "trainer.config_path",
                f"{app.target}'s @hydra.main names no config_path: set trainer.config_path",
            )
        declared = str(declared)
        config_dir = (
            declared
            if declared.startswith("pkg://")
            else str((Path(inspect.getfile(inspect.unwrap(task))).parent / declared).resolve())
        )
    elif not config_dir.startswith("pkg://"):
        config_dir = str(Path(config_dir).resolve())
    if not config_dir.startswith("pkg://") and not Path(config_dir).is_dir():
        raise ConfigError("trainer.config_path", f"{config_dir} is not a directory")
    name = app.config_name or settings.get("config_name")
    if not name:
        raise ConfigError(
            "trainer.config_name",
            f"{app.target}'s @hydra.main names no config_name: set trainer.config_name",
        )
    name = str(name).removesuffix(".yaml")
    return replace(app, config_dir=config_dir, config_name=name, version_base=base)


@functools.cache
def _version_base_set_by_the_app(target: str) -> str:
    """The version base the app's ``@hydra.main(version_base=...)`` set when its module was
    imported (Hydra keeps it globally; it decides defaults such as ``hydra.job.chdir``):
    read once per app, right after its import (``located``), so a second app imported later
    does not change the first's."""
    base = hydra_version.getbase()
    return f"{base.major}.{base.minor}" if isinstance(base, Version) else LEGACY_BASE


def compose_app(app: HydraAppSettings) -> DictConfig:
    """The app's composed config, its ``hydra`` node included (``app`` located); one
    ConfigError naming the app's config when it does not compose."""
    assert app.config_dir and app.config_name, "located() first"
    try:
        return _compose(app, app.overrides)
    except Exception as err:  # noqa: BLE001 - Hydra raises many kinds; all mean "does not compose"
        said = str(err).strip() or type(err).__name__  # all of it: Hydra names the key there
        key = "trainer.config_name"
        if app.overrides:  # the overrides' fault when the config composes without them
            try:
                _compose(app, ())
                key = "trainer.overrides"
            except Exception:  # noqa: BLE001 - the config itself does not compose
                pass
        raise ConfigError(
            key,
            f"the app's config {app.config_name!r} in {app.config_dir} does not compose "
            f"with overrides {list(app.overrides)}: {said}",
        ) from None


def _compose(app: HydraAppSettings, overrides: tuple[str, ...]) -> DictConfig:
    assert app.config_dir and app.config_name
    with _initialized(app.config_dir, app_job_name(app), app.version_base):
        return compose(
            app.config_name, overrides=one_run_overrides(overrides), return_hydra_config=True
        )


# Hydra's groups that concern a sweep of many runs, not one run: a trial is one run.
SWEEP_GROUPS = ("hydra/sweeper", "hydra/launcher")


def one_run_overrides(overrides: Sequence[str]) -> list[str]:
    """``overrides`` with the app's sweeper and launcher selections deleted (``~group``), so
    an app whose defaults pick a plugin that is not installed (``override hydra/sweeper:
    optuna``) still composes, and the app's own ``hydra.sweeper.*`` keys stay readable (an
    untyped node); a group the overrides name themselves is theirs."""
    named = {o.split("=", 1)[0].lstrip("~+") for o in overrides}
    return [*(f"~{group}" for group in SWEEP_GROUPS if group not in named), *overrides]


def app_job_name(app: HydraAppSettings) -> str:
    """``hydra.job.name`` as the app's own run names it: its module's last part."""
    return app.target.rpartition(".")[0].rpartition(".")[2] or "app"


def app_global_hydra(app: HydraAppSettings) -> Any:
    """Hydra's global state initialised on the app's config dir, kept for its trials: an app
    that composes or reads its search path itself finds its own (made once per worker)."""
    assert app.config_dir
    with _initialized(app.config_dir, app_job_name(app), app.version_base):
        return Singleton._instances[GlobalHydra]


@contextmanager
def _initialized(config_dir: str, job: str, version_base: str | None) -> Iterator[None]:
    """Hydra initialised on the app's config dir; the orchestrator's own Hydra state (this
    process runs inside its ``@hydra.main``) put aside and restored."""
    saved, saved_base = get_gh_backup(), hydra_version.getbase()
    GlobalHydra.instance().clear()
    try:
        with quiet_version_base():  # only Hydra's own calls run inside (a compose)
            if config_dir.startswith("pkg://"):
                module = config_dir.removeprefix("pkg://").replace("/", ".")
                with initialize_config_module(module, job_name=job, version_base=version_base):
                    yield
            else:
                with initialize_config_dir(config_dir, job_name=job, version_base=version_base):
                    yield
    finally:
        restore_gh_from_backup(saved)
        hydra_version.VersionBase.instance().version_base = saved_base


@contextmanager
def quiet_version_base() -> Iterator[None]:
    """Hydra's migration warning left out while the orchestrator passes on the version base
    the app chose (``1.1`` for an app that names none: Hydra warned the app already, on its
    import); the behaviour of that base is kept."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=Hydra14MigrationWarning)
        yield


def task_config(composed: DictConfig) -> DictConfig:
    """The config the app's task function receives: the composed one without ``hydra``."""
    task = copy.deepcopy(composed)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def app_tree(
    app: HydraAppSettings,
) -> tuple[HydraAppSettings, dict[str, Any], dict[str, ParamType]]:
    """The app located, its keys as plain data (interpolations kept as written, so the app
    resolves them per trial), and their types; one ConfigError before anything is written
    when the tree does not compose, does not resolve, or leaves a ``???`` unset."""
    app = located(app)
    composed = compose_app(app)
    task = task_config(composed)
    for key in NOT_PASSED:
        if key in task:
            raise ConfigError(
                f"trainer.config_name ({key})",
                f"the app's config has a top-level {key!r}, a name the orchestrator keeps for "
                "its own section; rename it in the app",
            )
    try:
        with hydra_config(hydra_state(composed), PLACEHOLDER_DIR):
            missing = sorted(OmegaConf.missing_keys(task))  # resolves: needs HydraConfig
            OmegaConf.to_container(task, resolve=True)
    except OmegaConfBaseException as err:
        where = str(getattr(err, "full_key", None) or app.config_name)
        raise ConfigError(where, f"does not resolve in the app's config: {err}") from None
    if missing:
        raise ConfigError(missing[0], "is ??? (mandatory) in the app's config: give it a value")
    tree = OmegaConf.to_container(task, resolve=False, enum_to_str=True)
    assert isinstance(tree, dict)
    types = own_types(task, resolve=False)
    return app, {str(k): v for k, v in tree.items()}, types
