"""The synthetic data set: seeded, fixed splits, a task where depth and learning rate matter."""

from __future__ import annotations

import pytest
import torch

from orchestrator.train.config import DataConfig
from orchestrator.train.data import load_split
from orchestrator.train.loop import fit
from orchestrator.train.synthetic import make_synthetic
from tests.support.experiments import tiny_experiment


def generate(seed: int, n: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    return make_synthetic(
        num_examples=n, num_classes=10, channels=3, image_size=32, label_noise=0.05, seed=seed
    )


def test_same_seed_same_data_and_other_seed_other_data():
    x1, y1 = generate(7)
    x2, y2 = generate(7)
    x3, _ = generate(8)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    assert x1.shape == (300, 3, 32, 32) and y1.dtype == torch.int64
    assert set(y1.tolist()) == set(range(10))


def test_shape_is_configurable():
    cfg = DataConfig(num_examples=200, val_size=50, num_classes=4, channels=1, image_size=16)
    split = load_split(cfg)
    assert split.x_train.shape == (150, 1, 16, 16) and split.x_val.shape == (50, 1, 16, 16)
    assert split.num_classes == 4 and int(split.y_train.max()) < 4


def test_validation_split_is_fixed_by_split_seed_and_disjoint():
    cfg = DataConfig(num_examples=400, val_size=100)
    a, b = load_split(cfg), load_split(cfg)
    assert torch.equal(a.x_val, b.x_val)
    other = load_split(DataConfig(num_examples=400, val_size=100, split_seed=1))
    assert not torch.equal(a.x_val, other.x_val)
    train_rows = {tuple(r) for r in a.x_train.flatten(1)[:, :6].tolist()}
    val_rows = {tuple(r) for r in a.x_val.flatten(1)[:, :6].tolist()}
    assert not train_rows & val_rows


def test_training_part_is_normalised_per_channel():
    split = load_split(DataConfig(num_examples=600, val_size=100))
    mean = split.x_train.mean(dim=(0, 2, 3))
    std = split.x_train.std(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.zeros(3), atol=1e-4)
    assert torch.allclose(std, torch.ones(3), atol=1e-3)


def test_train_subset_limits_training_examples_only():
    split = load_split(DataConfig(num_examples=600, val_size=100, train_subset=128))
    assert split.x_train.shape[0] == 128 and split.x_val.shape[0] == 100


def test_a_small_cnn_learns_well_above_chance_quickly():
    result = fit(tiny_experiment(steps=150, eval_every=50))
    assert result.status == "completed"
    assert result.objective < 0.6  # chance is 0.9


@pytest.mark.slow
def test_depth_and_learning_rate_visibly_matter():
    """The playbook's round-1 question has a real answer on the default data set."""

    def error(depth: int, lr: float) -> float:
        cfg = tiny_experiment(steps=300, eval_every=100, batch_size=64)
        cfg.data.image_size, cfg.model.width = 32, 32
        cfg.data.num_examples, cfg.data.val_size = 5000, 1000
        cfg.model.depth, cfg.optimizer.lr = depth, lr
        result = fit(cfg)
        assert result.objective is not None
        return result.objective

    shallow, deep, too_low = error(1, 0.2), error(3, 0.2), error(3, 0.002)
    assert deep < shallow - 0.2  # a deeper CNN is much better
    assert deep < too_low - 0.2  # and the learning rate must be tuned for it


def test_smallest_accepted_image_size_generates_and_smaller_is_refused():
    from orchestrator.exceptions import ConfigError
    from orchestrator.train import synthetic
    from orchestrator.train.config import (
        SYNTHETIC_MIN_IMAGE_SIZE,
        ExperimentConfig,
        validate_experiment,
    )

    largest_offset = max(max(abs(dy), abs(dx)) for dy, dx in synthetic.OFFSETS)
    assert SYNTHETIC_MIN_IMAGE_SIZE == synthetic.PART_SIZE + largest_offset
    cfg = DataConfig(num_examples=40, val_size=10, image_size=SYNTHETIC_MIN_IMAGE_SIZE)
    assert load_split(cfg).x_train.shape[-1] == SYNTHETIC_MIN_IMAGE_SIZE
    too_small = ExperimentConfig()
    too_small.data.image_size = SYNTHETIC_MIN_IMAGE_SIZE - 1
    with pytest.raises(ConfigError, match=r"data\.image_size.*>= 16"):
        validate_experiment(too_small)
