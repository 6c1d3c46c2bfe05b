"""Hydra's view of the config: the root schema registered in the ConfigStore, and the way out.

The YAML files under ``conf/`` extend the dataclass schema registered here, so a typo or
a wrong type fails when Hydra composes the config. A user's own primary config includes
``conf/orchestrator.yaml`` (our sections) and adds keys of their own, which become the
experiment. ``root_from_cfg`` and ``experiment_from_cfg`` turn the composed ``DictConfig``
into plain, validated data: nothing beyond this module, ``cli.py`` and the trainer's door
(``work/trainer_call.py``) ever sees a ``DictConfig``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, cast

from hydra.core.config_store import ConfigStore
from omegaconf import (
    BooleanNode,
    DictConfig,
    EnumNode,
    FloatNode,
    IntegerNode,
    ListConfig,
    OmegaConf,
    StringNode,
)
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from orchestrator.config.experiment import Experiment
from orchestrator.config.params import BUILTIN_SCHEMA, ParamSchema, ParamType
from orchestrator.config.round import RoundConfig
from orchestrator.config.sections import (
    AnalysisConfig,
    PathsConfig,
    ProbeConfig,
    StorageConfig,
    TrainerConfig,
)
from orchestrator.exceptions import ConfigError
from orchestrator.train.config import (
    SECTIONS,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrainConfig,
    experiment_to_dict,
    validate_experiment,
)

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"  # Hydra's config directory

STAGES = ("run", "work", "analyze", "promote", "history", "probe", "train")

# The orchestrator's own sections: everything else in an own config is the user's experiment.
OWN_SECTIONS: dict[str, type] = {
    "round": RoundConfig,
    "trainer": TrainerConfig,
    "paths": PathsConfig,
    "storage": StorageConfig,
    "probe": ProbeConfig,
    "analysis": AnalysisConfig,
}
ORCHESTRATOR_KEYS = ("stage", "worker", "hydra", *OWN_SECTIONS)


@dataclass
class Config:
    """The root schema that ``conf/config.yaml`` extends."""

    stage: str = "run"
    round: RoundConfig | None = None
    worker: int | None = None  # this process is one worker of many (Hydra multirun: worker=0,1,2)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)


def register_configs() -> None:
    """Register the root schema as ``schema`` (idempotent; Hydra allows re-storing)."""
    ConfigStore.instance().store(name="schema", node=Config)


def root_from_cfg(cfg: DictConfig) -> Config:
    """The composed config's orchestrator sections as the root dataclass, checked.

    The built-in config is typed by Hydra already (``schema``); an own config composes our
    sections as plain YAML beside the user's keys, so each is checked here against its
    dataclass, with the key named.
    """
    if cfg.stage not in STAGES:
        raise ConfigError("stage", f"must be one of {', '.join(STAGES)}; got {cfg.stage!r}")
    if cfg.get("worker") is not None and cfg.worker < 0:
        raise ConfigError("worker", f"must be an integer >= 0 (a worker index); got {cfg.worker}")
    if is_builtin(cfg):
        _no_added_keys(cfg)
        return cast(Config, OmegaConf.to_object(cfg))  # the schema above makes it one
    sections: dict[str, Any] = {"stage": cfg.stage, "worker": cfg.get("worker")}
    for key, cls in OWN_SECTIONS.items():
        if cfg.get(key) is not None:
            sections[key] = _checked_section(cfg, key, cls)
    return Config(**sections)


def _no_added_keys(cfg: DictConfig) -> None:
    """``+model.hidden_units=128`` passes Hydra (``+`` adds a key) but the built-in ``fit``
    would never read it: refuse it rather than drop it."""
    for section, cls in SECTIONS.items():
        names = {f.name for f in dataclasses.fields(cls)}
        for key in cfg[section]:
            if key not in names:
                raise ConfigError(
                    f"{section}.{key}",
                    "is not a key of the built-in experiment, so its fit would ignore it; to "
                    "tune keys of your own, compose your own config (README: bring your own code)",
                )


def _checked_section(cfg: DictConfig, key: str, cls: type) -> Any:
    try:
        values = OmegaConf.to_container(cfg[key], resolve=True)  # ${paths.studies} needs the root
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(cls), values))
    except OmegaConfBaseException as err:
        where = f"{key}.{err.full_key}" if getattr(err, "full_key", None) else key
        raise ConfigError(where, str(err).splitlines()[0]) from None


def is_builtin(cfg: DictConfig) -> bool:
    """Whether ``cfg`` is the built-in experiment's config (``conf/config.yaml``)."""
    return OmegaConf.get_type(cfg) is Config


def experiment_of(root: Config) -> ExperimentConfig:
    """The root config's built-in experiment part, validated."""
    experiment = ExperimentConfig(
        data=root.data,
        model=root.model,
        optimizer=root.optimizer,
        schedule=root.schedule,
        train=root.train,
        objective=root.objective,
    )
    validate_experiment(experiment)
    return experiment


def experiment_from_cfg(cfg: DictConfig, root: Config | None = None) -> Experiment:
    """The composed config's experiment: the built-in one, or the user's own keys."""
    root = root if root is not None else root_from_cfg(cfg)
    trainer = root.round.trainer if root.round and root.round.trainer else root.trainer._target_
    if is_builtin(cfg):
        tree: dict[str, Any] = experiment_to_dict(experiment_of(root))
        schema = BUILTIN_SCHEMA
    else:
        tree = _own_tree(cfg)
        schema = ParamSchema(own_types(cfg, skip=ORCHESTRATOR_KEYS), builtin=False)
    seed_key, length_key = root.trainer.seed_key, root.trainer.length_key
    if schema.builtin:  # the built-in experiment's keys, also when a config does not say
        seed_key, length_key = seed_key or "train.seed", length_key or "train.steps"
    experiment = Experiment(tree, schema, trainer, seed_key, length_key)
    for key in ("seed_key", "length_key"):
        path = getattr(experiment, key)
        if path is not None:
            schema.check_path(f"trainer.{key}", path)
            if not schema.type_of(path).numeric() or isinstance(experiment.get(path), bool):
                raise ConfigError(f"trainer.{key}", f"{path} must hold an integer")
    experiment.validate()
    return experiment


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


_NODE_TYPES: dict[type, type] = {
    IntegerNode: int,
    FloatNode: float,
    BooleanNode: bool,
    StringNode: str,
    EnumNode: str,
}


def own_types(
    cfg: DictConfig, *, skip: tuple[str, ...] = (), prefix: str = ""
) -> dict[str, ParamType]:
    """path -> type of every leaf: from a structured config's declared types, else from the
    default value (``null`` takes any value)."""
    out: dict[str, ParamType] = {}
    for key in (str(k) for k in cfg):
        if key in skip:
            continue
        path = f"{prefix}{key}"
        node = cfg._get_node(key)
        assert node is not None  # a key the loop just listed
        if isinstance(node, DictConfig):
            out.update(own_types(node, prefix=f"{path}."))
            continue
        if isinstance(node, ListConfig):
            out[path] = ParamType(list, node._is_optional())
            continue
        value = cfg[key]
        declared = next((t for n, t in _NODE_TYPES.items() if isinstance(node, n)), None)
        if declared is not None:
            out[path] = ParamType(declared, bool(node._is_optional()))
        else:  # AnyNode: the default value's type (inferred); null takes anything
            base = None if value is None else type(value)
            known = base if base in (int, float, bool, str) else None
            out[path] = ParamType(known, True, inferred=True)
    return out
