"""Experiments for tests: small enough to train in about a second on a CPU."""

from __future__ import annotations

from orchestrator.train.config import ExperimentConfig


def tiny_experiment(**train: object) -> ExperimentConfig:
    """A small, fast experiment: 16 px synthetic images, a narrow CNN, a short budget."""
    cfg = ExperimentConfig()
    cfg.data.num_examples = 1200
    cfg.data.val_size = 300
    cfg.data.image_size = 16
    cfg.model.width = 16
    cfg.train.steps = 60
    cfg.train.batch_size = 32
    cfg.train.eval_every = 20
    cfg.train.eval_batch_size = 300
    cfg.train.device = "cpu"
    for key, value in train.items():
        setattr(cfg.train, key, value)
    return cfg
