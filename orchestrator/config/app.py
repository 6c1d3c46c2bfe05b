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
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

from orchestrator.config.launch import NOT_PASSED, Launch
from orchestrator.config.node_types import own_types
from orchestrator.config.params import ParamType
from orchestrator.config.trainer import resolve_trainer
from orchestrator.exceptions import ConfigError

VERSION_BASE = "1.3"
PLACEHOLDER_DIR = "/tmp/orchestrator-trial"  # ${hydra:runtime.output_dir} while checking


def app_functions(
    target: str,
) -> tuple[Callable[..., Any], Callable[..., Any], Mapping[str, Any]]:
    """The ``@hydra.main`` function at ``target``, its task function and its decorator's
    settings; one ConfigError when ``target`` is not one."""
    main = resolve_trainer(target)
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


def located(launch: Launch) -> Launch:
    """``launch`` with the app's config dir (absolute) and name filled in: the ones the
    config names, else the decorator's (``config_path`` relative to the app's file)."""
    _, task, settings = app_functions(launch.target)
    config_dir = launch.config_dir
    if config_dir is None:
        declared = settings.get("config_path")
        if declared is None:
            raise ConfigError(
                "trainer.config_path",
                f"{launch.target}'s @hydra.main names no config_path: set trainer.config_path",
            )
        declared = str(declared)
        config_dir = (
            declared
            if declared.startswith("pkg://")
            else str((Path(inspect.getfile(task)).parent / declared).resolve())
        )
    elif not config_dir.startswith("pkg://"):
        config_dir = str(Path(config_dir).resolve())
    if not config_dir.startswith("pkg://") and not Path(config_dir).is_dir():
        raise ConfigError("trainer.config_path", f"{config_dir} is not a directory")
    name = launch.config_name or settings.get("config_name")
    if not name:
        raise ConfigError(
            "trainer.config_name",
            f"{launch.target}'s @hydra.main names no config_name: set trainer.config_name",
        )
    return replace(launch, config_dir=config_dir, config_name=str(name).removesuffix(".yaml"))


def compose_app(launch: Launch) -> DictConfig:
    """The app's composed config, its ``hydra`` node included (``launch`` located); one
    ConfigError naming the app's config when it does not compose."""
    assert launch.config_dir and launch.config_name, "located() first"
    job = launch.target.rpartition(".")[0].rpartition(".")[2] or "app"
    try:
        with _initialized(launch.config_dir, job):
            return compose(
                launch.config_name, overrides=list(launch.overrides), return_hydra_config=True
            )
    except Exception as err:  # noqa: BLE001 - Hydra raises many kinds; all mean "does not compose"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            "trainer.config_name",
            f"the app's config {launch.config_name!r} in {launch.config_dir} does not compose "
            f"with overrides {list(launch.overrides)}: {first}",
        ) from None


@contextmanager
def _initialized(config_dir: str, job: str) -> Iterator[None]:
    """Hydra initialised on the app's config dir; the orchestrator's own Hydra state (this
    process runs inside its ``@hydra.main``) put aside and restored."""
    saved = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        if config_dir.startswith("pkg://"):
            module = config_dir.removeprefix("pkg://").replace("/", ".")
            with initialize_config_module(module, job_name=job, version_base=VERSION_BASE):
                yield
        else:
            with initialize_config_dir(config_dir, job_name=job, version_base=VERSION_BASE):
                yield
    finally:
        restore_gh_from_backup(saved)


def task_config(composed: DictConfig) -> DictConfig:
    """The config the app's task function receives: the composed one without ``hydra``."""
    task = copy.deepcopy(composed)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def hydra_state(composed: DictConfig) -> Any:
    """What ``HydraConfig`` holds during a Hydra run of this config (made once: copying the
    ``hydra`` node is the expensive part; a trial only changes its output dir)."""
    instance = HydraConfig.instance()
    saved = instance.cfg
    try:
        instance.set_config(composed)
        return instance.cfg
    finally:
        instance.cfg = saved


@contextmanager
def hydra_config(state: Any, output_dir: str | Path) -> Iterator[None]:
    """``HydraConfig`` set as a Hydra run sets it (``${hydra:runtime.output_dir}``
    resolves to ``output_dir``), the previous one back afterwards."""
    with read_write(state.hydra):
        state.hydra.runtime.output_dir = str(output_dir)
    instance = HydraConfig.instance()
    saved = instance.cfg
    instance.cfg = state
    try:
        yield
    finally:
        instance.cfg = saved


def app_tree(launch: Launch) -> tuple[Launch, dict[str, Any], dict[str, ParamType]]:
    """The app located, its keys as plain data (interpolations kept as written, so the app
    resolves them per trial), and their types; one ConfigError before anything is written
    when the tree does not compose, does not resolve, or leaves a ``???`` unset."""
    launch = located(launch)
    composed = compose_app(launch)
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
        where = str(getattr(err, "full_key", None) or launch.config_name)
        raise ConfigError(where, f"does not resolve in the app's config: {err}") from None
    if missing:
        raise ConfigError(missing[0], "is ??? (mandatory) in the app's config: give it a value")
    tree = OmegaConf.to_container(task, resolve=False, enum_to_str=True)
    assert isinstance(tree, dict)
    types = own_types(task, resolve=False)
    return launch, {str(k): v for k, v in tree.items()}, types


def working_dir_for(composed: DictConfig, output_dir: Path) -> str:
    """Where the app runs: its output dir when it asks Hydra to change there
    (``hydra.job.chdir``), else the current directory."""
    return str(output_dir) if composed.hydra.job.get("chdir") else os.getcwd()
