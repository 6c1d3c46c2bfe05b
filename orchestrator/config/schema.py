"""Hydra's view of the config: the root schema registered in the ConfigStore, and the way out.

The YAML files under ``conf/`` extend the dataclass schema registered here, so a typo or
a wrong type fails when Hydra composes the config. ``root_from_cfg`` and
``experiment_from_cfg`` turn the composed ``DictConfig`` into plain, validated
dataclasses: nothing beyond this module and ``cli.py`` ever sees a ``DictConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

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
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrainConfig,
    validate_experiment,
)

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"  # Hydra's config directory

STAGES = ("run", "work", "analyze", "promote", "history", "probe", "train")


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
    return cast(Config, OmegaConf.to_object(cfg))  # the schema above makes it one


def experiment_of(root: Config) -> ExperimentConfig:
    """The root config's experiment part, validated."""
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


def experiment_from_cfg(cfg: DictConfig) -> ExperimentConfig:
    """The composed config's experiment part as validated dataclasses."""
    return experiment_of(root_from_cfg(cfg))
