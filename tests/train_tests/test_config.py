"""Invalid experiment values fail with one ConfigError that names the key and what is valid."""

from __future__ import annotations

import pytest

from orchestrator.exceptions import ConfigError
from orchestrator.train.config import (
    ExperimentConfig,
    experiment_from_dict,
    experiment_to_dict,
    validate_experiment,
)

BAD_VALUES = [
    ("optimizer", "lr", -0.1, "optimizer.lr", "> 0"),
    ("optimizer", "lr", 0.0, "optimizer.lr", "> 0"),
    ("optimizer", "lr", float("nan"), "optimizer.lr", "finite"),
    ("optimizer", "name", "lion", "optimizer.name", "sgd, adam, adamw"),
    ("optimizer", "momentum", 1.0, "optimizer.momentum", "[0, 1)"),
    ("optimizer", "beta2", 1.5, "optimizer.beta2", "[0, 1)"),
    ("optimizer", "weight_decay", -1e-4, "optimizer.weight_decay", ">= 0"),
    ("model", "activation", "swish", "model.activation", "relu, gelu, tanh"),
    ("model", "depth", 0, "model.depth", ">= 1"),
    ("model", "width", 0, "model.width", ">= 1"),
    ("model", "norm", "group", "model.norm", "batch, layer, none"),
    ("model", "init", "orthogonal", "model.init", "kaiming, xavier, default"),
    ("model", "name", "vit", "model.name", "mlp, cnn, resnet18, airbench"),
    ("model", "dropout", 1.0, "model.dropout", "[0, 1)"),
    ("schedule", "name", "onecycle", "schedule.name", "constant, linear"),
    ("schedule", "warmup_steps", -5, "schedule.warmup_steps", ">= 0"),
    ("schedule", "final_fraction", 1.5, "schedule.final_fraction", "[0, 1]"),
    ("schedule", "milestones", [0.75, 0.5], "schedule.milestones", "increasing"),
    ("schedule", "milestones", [0.5, 1.0], "schedule.milestones[1]", "(0, 1)"),
    ("train", "steps", 0, "train.steps", ">= 1"),
    ("train", "batch_size", -64, "train.batch_size", ">= 1"),
    ("train", "device", "tpu", "train.device", "auto, cpu, cuda"),
    ("train", "precision", "fp8", "train.precision", "auto, fp32, bf16, fp16"),
    ("train", "compile", "yes", "train.compile", "true or false"),
    ("train", "channels_last", 1, "train.channels_last", "true or false"),
    ("train", "divergence_factor", 1.0, "train.divergence_factor", "> 1"),
    ("train", "grad_clip_norm", 0.0, "train.grad_clip_norm", "> 0"),
    ("train", "label_smoothing", 1.0, "train.label_smoothing", "[0, 1)"),
    ("data", "name", "imagenet", "data.name", "synthetic, cifar10"),
    ("data", "label_noise", -0.1, "data.label_noise", "[0, 1)"),
    ("data", "val_size", 5000, "data.val_size", "smaller than data.num_examples"),
    ("data", "num_classes", 1, "data.num_classes", ">= 2"),
    ("objective", "metric", "accuracy", "objective.metric", "val_error, val_loss"),
    ("objective", "direction", "maximize", "objective.direction", "'minimize'"),
]


@pytest.mark.parametrize(("section", "field", "value", "key", "hint"), BAD_VALUES)
def test_invalid_value_names_its_key(section, field, value, key, hint):
    cfg = ExperimentConfig()
    setattr(getattr(cfg, section), field, value)
    with pytest.raises(ConfigError) as info:
        validate_experiment(cfg)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")
    assert hint in str(info.value)


def test_defaults_are_valid():
    validate_experiment(ExperimentConfig())


def test_nesterov_needs_momentum():
    cfg = ExperimentConfig()
    cfg.optimizer.nesterov, cfg.optimizer.momentum = True, 0.0
    with pytest.raises(ConfigError, match=r"optimizer.nesterov: needs optimizer.momentum > 0"):
        validate_experiment(cfg)


def test_dict_round_trip_and_partial_override():
    cfg = ExperimentConfig()
    cfg.model.depth = 4
    assert experiment_from_dict(experiment_to_dict(cfg)) == cfg
    partial = experiment_from_dict({"optimizer": {"name": "adam", "lr": 3e-4}})
    assert partial.optimizer.name == "adam" and partial.optimizer.lr == 3e-4
    assert partial.model == ExperimentConfig().model


@pytest.mark.parametrize(
    ("raw", "key"),
    [({"optimiser": {}}, "optimiser"), ({"model": {"depht": 3}}, "model.depht")],
)
def test_unknown_keys_in_a_dict_are_named(raw, key):
    with pytest.raises(ConfigError) as info:
        experiment_from_dict(raw)
    assert info.value.key == key
    assert "valid:" in str(info.value)
