"""The one place that turns a trainer's settings into the trainer of its kind."""

from __future__ import annotations

from orchestrator.config.trainer_settings import (
    CommandSettings,
    FunctionSettings,
    HydraAppSettings,
    TrainerSettings,
)
from orchestrator.trainers.command import CommandTrainer
from orchestrator.trainers.function import FunctionTrainer
from orchestrator.trainers.hydra_app.trainer import HydraAppTrainer
from orchestrator.trainers.protocol import Trainer
from orchestrator.trainers.resources import WorkerResources


def trainer_for(
    settings: TrainerSettings, *, builtin: bool, resources: WorkerResources
) -> Trainer:
    """The trainer ``settings`` describe, built (a function imported and its signature
    checked against the experiment, ``builtin`` or own keys; an app's config composed)."""
    match settings:
        case FunctionSettings():
            return FunctionTrainer(settings, builtin=builtin, resources=resources)
        case CommandSettings():
            return CommandTrainer(settings)
        case HydraAppSettings():
            return HydraAppTrainer(settings)
