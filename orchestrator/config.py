"""Hydra's view of the config: the schema registered in the ConfigStore, and the way out.

The YAML files under ``conf/`` extend the dataclass schema registered here, so a typo or
a wrong type fails when Hydra composes the config. ``experiment_from_cfg`` then turns the
composed ``DictConfig`` into a plain, validated ``ExperimentConfig``: nothing beyond this
module and ``cli.py`` ever sees a ``DictConfig``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from orchestrator.analysis.model import AnalysisConfig
from orchestrator.exceptions import ConfigError
from orchestrator.probe import ProbeConfig
from orchestrator.roles import RoundConfig
from orchestrator.storage import StorageConfig
from orchestrator.train.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrainConfig,
    validate_experiment,
)

STAGES = ("run", "work", "analyze", "promote", "history", "probe", "train")


@dataclass
class TrainerConfig:
    """Which function trains a trial: ``fn(config, on_eval=None) -> TrainResult``."""

    _target_: str = "orchestrator.train.fit"


@dataclass
class PathsConfig:
    """Where outputs go; ``paths.studies=DIR`` moves the whole workspace."""

    studies: str = "studies"


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
    """The composed config as the root dataclass, its stage checked."""
    if cfg.stage not in STAGES:
        raise ConfigError("stage", f"must be one of {', '.join(STAGES)}; got {cfg.stage!r}")
    if cfg.get("worker") is not None and cfg.worker < 0:
        raise ConfigError("worker", f"must be an integer >= 0 (a worker index); got {cfg.worker}")
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


def experiment_from_cfg(cfg: DictConfig) -> ExperimentConfig:
    """The composed config's experiment part as validated dataclasses."""
    root = root_from_cfg(cfg)
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


def resolve_trainer(target: str) -> Callable[..., Any]:
    """Import ``package.module.function`` named by ``trainer._target_``.

    Plain importlib rather than ``hydra.utils`` so the rounds can resolve a trainer from a
    stored config without Hydra being initialised.
    """
    module_name, _, attr = target.rpartition(".")
    if not module_name:
        raise ConfigError(
            "trainer._target_", f"must be a dotted path module.function; got {target!r}"
        )
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError("trainer._target_", f"cannot import {target!r}: {err}") from None
    if not callable(fn):
        raise ConfigError("trainer._target_", f"{target!r} is not callable")
    return fn
