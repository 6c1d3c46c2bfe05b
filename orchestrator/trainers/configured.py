"""The experiment a composed config trains: the built-in one, the user's own keys, or a
Hydra app's config tree (read through the app, so it lives beside the app's code), with
the trainer that trains it, checked before anything is written."""

from __future__ import annotations

from enum import Enum
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from orchestrator.config.experiment import Experiment
from orchestrator.config.node_types import own_types
from orchestrator.config.params import BUILTIN_SCHEMA, ParamSchema
from orchestrator.config.schema import (
    ORCHESTRATOR_KEYS,
    Config,
    experiment_of,
    is_builtin,
    root_from_cfg,
)
from orchestrator.config.trainer_settings import FunctionSettings, HydraAppSettings, settings_from
from orchestrator.exceptions import ConfigError
from orchestrator.train.config import experiment_to_dict
from orchestrator.trainers.hydra_app.compose import app_tree


def experiment_from_cfg(cfg: DictConfig, root: Config | None = None) -> Experiment:
    """The composed config's experiment: the built-in one, the user's own keys, or a Hydra
    app's config tree (with the ``objective`` of the orchestrator's config)."""
    root = root if root is not None else root_from_cfg(cfg)
    settings = settings_from(root.trainer, root.round.trainer if root.round else None)
    if is_builtin(cfg):
        if not isinstance(settings, FunctionSettings):
            raise ConfigError(
                "trainer.kind",
                f"{settings.kind} trains your own keys: compose your own config "
                "(defaults: [orchestrator, _self_]; docs/own-code.md)",
            )
        tree: dict[str, Any] = experiment_to_dict(experiment_of(root))
        schema = BUILTIN_SCHEMA
    elif isinstance(settings, HydraAppSettings):
        _no_own_keys_beside_an_app(cfg)
        settings, tree, types = app_tree(settings)
        tree["objective"] = OmegaConf.to_container(cfg.objective, resolve=True)
        types |= own_types(cfg.objective, prefix="objective.")
        schema = ParamSchema(types, builtin=False)
    else:
        tree = _own_tree(cfg)
        schema = ParamSchema(own_types(cfg, skip=ORCHESTRATOR_KEYS), builtin=False)
    seed_key, length_key = root.trainer.seed_key, root.trainer.length_key
    if schema.builtin:  # the built-in experiment's keys, also when a config does not say
        seed_key, length_key = seed_key or "train.seed", length_key or "train.steps"
    experiment = Experiment(tree, schema, settings, seed_key, length_key)
    for key in ("seed_key", "length_key"):
        path = getattr(experiment, key)
        if path is not None:
            schema.check_path(f"trainer.{key}", path)
            if not schema.type_of(path).numeric() or isinstance(experiment.get(path), bool):
                raise ConfigError(f"trainer.{key}", f"{path} must hold an integer")
    experiment.validate()
    return experiment


def _no_own_keys_beside_an_app(cfg: DictConfig) -> None:
    """With a Hydra app the experiment is the app's tree: keys of the orchestrator's config
    beside it would be silently ignored, so they are refused."""
    for key in (str(k) for k in cfg):
        if key not in ORCHESTRATOR_KEYS and key != "objective":
            raise ConfigError(
                key,
                "is not the app's: with trainer.kind=hydra_app the experiment is your app's "
                "config tree (set its keys there, or fix them in trainer.overrides)",
            )


def _own_tree(cfg: DictConfig) -> dict[str, Any]:
    """The user's keys as plain data: interpolations resolved, enums as their names, and a
    mandatory ``???`` left unset one error naming it."""
    tree: dict[str, Any] = {}
    try:
        for key in (str(k) for k in cfg if str(k) not in ORCHESTRATOR_KEYS):
            node = cfg[key]  # read from the root: ${paths.studies} and the like resolve
            if isinstance(node, DictConfig | ListConfig):
                tree[key] = OmegaConf.to_container(
                    node, resolve=True, throw_on_missing=True, enum_to_str=True
                )
            else:
                tree[key] = node.name if isinstance(node, Enum) else node
    except MissingMandatoryValue as err:
        raise ConfigError(str(err.full_key), "is ??? (mandatory): give it a value") from None
    return tree
