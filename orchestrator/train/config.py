"""The experiment schema: what one training run is, as plain dataclasses.

These dataclasses are the single source of truth for the experiment's shape. Hydra
registers them as structured-config schemas (``orchestrator.config``), rounds address
their fields by dotted path (``model.depth``), and ``fit`` consumes them. They live in
the training library, which imports neither Hydra nor Optuna, so ``fit`` can be called
from a plain script or test with ``ExperimentConfig()``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any

from orchestrator.exceptions import ConfigError

# The synthetic images hold two 7-pixel parts up to 9 pixels apart (train/synthetic.py:
# PART_SIZE + the largest offset); a test keeps the two modules in step.
SYNTHETIC_MIN_IMAGE_SIZE = 16

DATASETS = ("synthetic", "cifar10", "cifar100", "mnist", "fashion_mnist")
MODELS = ("mlp", "cnn", "resnet18", "airbench")
NORMS = ("batch", "layer", "none")
ACTIVATIONS = ("relu", "gelu", "tanh")
INITS = ("kaiming", "xavier", "default")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "linear", "cosine", "step", "exponential")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
METRIC_DIRECTIONS = {"val_error": "minimize", "val_loss": "minimize", "val_accuracy": "maximize"}


@dataclass
class DataConfig:
    """Which data set, how it is split into train/validation, and how it is augmented."""

    name: str = "synthetic"  # one of DATASETS
    root: str = "data"  # torchvision data sets: directory holding the files
    download: bool = False  # torchvision data sets: fetch when missing (needs internet)
    seed: int = 0  # synthetic: generation seed (the data set itself, not the training run)
    num_examples: int = 5000  # synthetic: train + validation examples generated
    num_classes: int = 10  # synthetic: number of classes
    channels: int = 3  # synthetic: image channels
    image_size: int = 32  # synthetic: image height = width
    label_noise: float = 0.05  # synthetic: fraction of labels replaced at random (caps accuracy)
    val_size: int = 1000  # held-out validation examples taken from the training files
    split_seed: int = 0  # fixed seed of the train/validation split
    train_subset: int | None = None  # use only this many training examples (None: all)
    crop_padding: int = 0  # random-crop augmentation: pad by this many pixels, crop back
    hflip: bool = False  # random horizontal flip augmentation


@dataclass
class ModelConfig:
    """The network. Fields a model does not use are ignored by it (e.g. ``residual`` by mlp)."""

    name: str = "cnn"  # one of MODELS
    depth: int = 2  # cnn: conv blocks; mlp: hidden layers; airbench: conv groups (resnet18: -)
    width: int = 32  # cnn: channels per block; mlp: hidden units; airbench: first group's
    norm: str = "batch"  # batch | layer | none
    activation: str = "relu"  # relu | gelu | tanh
    use_dropout: bool = False  # regularisation on/off (a scientific or fixed choice)
    dropout: float = 0.1  # dropout rate, used only when use_dropout (its nuisance strength)
    init: str = "kaiming"  # kaiming | xavier | default (PyTorch's own)
    residual: bool = False  # cnn: identity skip connections around blocks


@dataclass
class OptimizerConfig:
    """Optimizer and its hyperparameters; each optimizer reads only its own fields."""

    name: str = "sgd"  # sgd | adam | adamw
    lr: float = 0.1  # peak learning rate
    momentum: float = 0.9  # sgd
    nesterov: bool = False  # sgd
    beta1: float = 0.9  # adam, adamw
    beta2: float = 0.999  # adam, adamw
    eps: float = 1.0e-8  # adam, adamw
    weight_decay: float = 0.0  # L2 (sgd, adam) or decoupled (adamw)


@dataclass
class ScheduleConfig:
    """Learning-rate schedule as a multiplier of the peak rate, after an optional warmup."""

    name: str = "constant"  # constant | linear | cosine | step | exponential
    warmup_steps: int = 0  # linear warmup from lr/warmup_steps to lr
    final_fraction: float = 0.0  # linear/cosine/exponential: multiplier at the last step
    milestones: list[float] = field(default_factory=lambda: [0.5, 0.75])  # step: fractions
    gamma: float = 0.1  # step: multiplier applied at each milestone


@dataclass
class TrainConfig:
    """How long and how the loop runs: budget, cadence, seed, device, numerics."""

    steps: int = 300  # step budget
    batch_size: int = 64
    eval_every: int = 50  # evaluate on the validation split every N steps (and at the end)
    seed: int = 0  # training seed: initialisation, data order, augmentation, dropout
    device: str = "auto"  # auto (cuda when available) | cpu | cuda
    precision: str = "auto"  # auto (bf16 autocast on cuda, fp32 on cpu) | fp32 | bf16 | fp16
    channels_last: bool = True  # model and stored data in NHWC on cuda (ignored on cpu)
    compile: bool = False  # torch.compile the model, once per worker process (compiled.py)
    grad_clip_norm: float | None = None  # clip the global gradient norm (None: off)
    label_smoothing: float = 0.0
    divergence_factor: float = 10.0  # loss above this multiple of the initial loss = diverged
    metrics_every: int = 10  # host sync cadence: divergence check, update/weight ratio
    eval_batch_size: int = 1000
    threads: int | None = None  # torch CPU threads (None: PyTorch's default)


@dataclass
class ObjectiveConfig:
    """What a trial is judged by: the best value of a validation metric over the run."""

    metric: str = "val_error"  # val_error | val_loss | val_accuracy
    direction: str = "minimize"  # must match the metric


@dataclass
class ExperimentConfig:
    """One training run, complete: everything ``fit`` needs."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)


# The experiment's sections by name, in order: the first part of every parameter path
# (model.depth). Read off ``ExperimentConfig``, so the sections are declared there only.
SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(ExperimentConfig)[f.name]
    for f in dataclasses.fields(ExperimentConfig)
}


def _choice(key: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(key, f"must be one of {', '.join(valid)}; got {value!r}")


def _positive(key: str, value: float | int, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not (isinstance(value, int | float) and math.isfinite(value) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(key, f"must be a finite number {bound}; got {value!r}")


def _fraction(key: str, value: float, *, closed_high: bool = False) -> None:
    ok = 0.0 <= value <= 1.0 if closed_high else 0.0 <= value < 1.0
    if not ok:
        interval = "[0, 1]" if closed_high else "[0, 1)"
        raise ConfigError(key, f"must lie in {interval}; got {value!r}")


def validate_experiment(cfg: ExperimentConfig) -> None:
    """Raise one ``ConfigError`` naming the first invalid key, or return None.

    Why: a bad value must fail before a trial is created or a store is written, with a
    message that names the key and the valid values, not as a shape error deep in torch.
    """
    _validate_data(cfg.data)
    _validate_model(cfg.model)
    _validate_optimizer(cfg.optimizer)
    _validate_schedule(cfg.schedule)
    _validate_train(cfg.train)
    _choice("objective.metric", cfg.objective.metric, tuple(METRIC_DIRECTIONS))
    expected = METRIC_DIRECTIONS[cfg.objective.metric]
    if cfg.objective.direction != expected:
        raise ConfigError(
            "objective.direction",
            f"{cfg.objective.metric} is to be {expected}d, so direction must be "
            f"{expected!r}; got {cfg.objective.direction!r}",
        )


def _validate_data(d: DataConfig) -> None:
    _choice("data.name", d.name, DATASETS)
    _positive("data.num_classes", d.num_classes)
    if d.num_classes < 2:
        raise ConfigError("data.num_classes", f"must be >= 2; got {d.num_classes}")
    _positive("data.channels", d.channels)
    if d.image_size < 8:
        raise ConfigError("data.image_size", f"must be >= 8 pixels; got {d.image_size}")
    if d.name == "synthetic" and d.image_size < SYNTHETIC_MIN_IMAGE_SIZE:
        raise ConfigError(
            "data.image_size",
            f"the synthetic data set needs >= {SYNTHETIC_MIN_IMAGE_SIZE} pixels (its two"
            f" class parts side by side); got {d.image_size}",
        )
    _fraction("data.label_noise", d.label_noise)
    _positive("data.val_size", d.val_size)
    if d.name == "synthetic" and d.val_size >= d.num_examples:
        raise ConfigError(
            "data.val_size",
            f"must be smaller than data.num_examples ({d.num_examples}); got {d.val_size}",
        )
    if d.train_subset is not None:
        _positive("data.train_subset", d.train_subset)
    _positive("data.crop_padding", d.crop_padding, allow_zero=True)


def _validate_model(m: ModelConfig) -> None:
    _choice("model.name", m.name, MODELS)
    if not isinstance(m.depth, int) or m.depth < 1:
        raise ConfigError("model.depth", f"must be an integer >= 1; got {m.depth!r}")
    if not isinstance(m.width, int) or m.width < 1:
        raise ConfigError("model.width", f"must be an integer >= 1; got {m.width!r}")
    _choice("model.norm", m.norm, NORMS)
    _choice("model.activation", m.activation, ACTIVATIONS)
    _choice("model.init", m.init, INITS)
    _fraction("model.dropout", m.dropout)


def _validate_optimizer(o: OptimizerConfig) -> None:
    _choice("optimizer.name", o.name, OPTIMIZERS)
    _positive("optimizer.lr", o.lr)
    _fraction("optimizer.momentum", o.momentum)
    _fraction("optimizer.beta1", o.beta1)
    _fraction("optimizer.beta2", o.beta2)
    _positive("optimizer.eps", o.eps)
    _positive("optimizer.weight_decay", o.weight_decay, allow_zero=True)
    if o.nesterov and o.name == "sgd" and o.momentum == 0:
        raise ConfigError("optimizer.nesterov", "needs optimizer.momentum > 0; got momentum 0")


def _validate_schedule(s: ScheduleConfig) -> None:
    _choice("schedule.name", s.name, SCHEDULES)
    _positive("schedule.warmup_steps", s.warmup_steps, allow_zero=True)
    _fraction("schedule.final_fraction", s.final_fraction, closed_high=True)
    if s.name == "exponential" and s.final_fraction <= 0:
        raise ConfigError(
            "schedule.final_fraction", "must be > 0 for the exponential schedule; got 0"
        )
    for i, m in enumerate(s.milestones):
        if not 0.0 < m < 1.0:
            raise ConfigError(
                f"schedule.milestones[{i}]", f"must be a fraction of training in (0, 1); got {m}"
            )
    if list(s.milestones) != sorted(s.milestones):
        raise ConfigError("schedule.milestones", f"must be increasing; got {list(s.milestones)}")
    _positive("schedule.gamma", s.gamma)


def _validate_train(t: TrainConfig) -> None:
    for key in ("steps", "batch_size", "eval_every", "metrics_every", "eval_batch_size"):
        value = getattr(t, key)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"train.{key}", f"must be an integer >= 1; got {value!r}")
    _choice("train.device", t.device, DEVICES)
    _choice("train.precision", t.precision, PRECISIONS)
    for key in ("channels_last", "compile"):
        if not isinstance(getattr(t, key), bool):
            raise ConfigError(f"train.{key}", f"must be true or false; got {getattr(t, key)!r}")
    if t.grad_clip_norm is not None:
        _positive("train.grad_clip_norm", t.grad_clip_norm)
    _fraction("train.label_smoothing", t.label_smoothing)
    if not t.divergence_factor > 1:
        raise ConfigError("train.divergence_factor", f"must be > 1; got {t.divergence_factor!r}")
    if t.threads is not None:
        _positive("train.threads", t.threads)


def experiment_to_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    """The experiment as plain nested dicts (YAML/JSON ready)."""
    return dataclasses.asdict(cfg)


def experiment_from_dict(raw: dict[str, Any]) -> ExperimentConfig:
    """Build an experiment from nested dicts; unknown keys raise a ``ConfigError`` naming them.

    Missing sections and fields keep their defaults, so a partial dict is a valid override.
    """
    sections: dict[str, Any] = {}
    for section, value in raw.items():
        if section not in SECTIONS:
            raise ConfigError(section, f"unknown section; valid: {', '.join(SECTIONS)}")
        cls = SECTIONS[section]
        names = {f.name for f in dataclasses.fields(cls)}
        for key in value or {}:
            if key not in names:
                raise ConfigError(
                    f"{section}.{key}", f"unknown key; valid: {', '.join(sorted(names))}"
                )
        sections[section] = cls(**(value or {}))
    return ExperimentConfig(**sections)
