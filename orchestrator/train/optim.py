"""Optimizers and learning-rate schedules from config.

The schedule is a pure function of the step (``lr_at``), so the curve a config produces
is documented by its tests and the loop sets each step's rate without a scheduler object.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from orchestrator.train.config import OptimizerConfig, ScheduleConfig


def build_optimizer(
    cfg: OptimizerConfig, params: Iterable[torch.nn.Parameter], *, fused: bool = False
) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), Adam (L2 weight decay) or AdamW (decoupled weight decay).

    ``fused`` selects the single-kernel CUDA implementation where torch has one.
    """
    params = list(params)
    extra = {"fused": True} if fused else {}
    if cfg.name == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
            **extra,
        )
    betas = (cfg.beta1, cfg.beta2)
    if cfg.name == "adam":
        return torch.optim.Adam(
            params, lr=cfg.lr, betas=betas, eps=cfg.eps, weight_decay=cfg.weight_decay, **extra
        )
    if cfg.name == "adamw":
        return torch.optim.AdamW(
            params, lr=cfg.lr, betas=betas, eps=cfg.eps, weight_decay=cfg.weight_decay, **extra
        )
    raise ValueError(f"optimizer.name must be sgd, adam or adamw; got {cfg.name!r}")


def lr_at(step: int, total_steps: int, peak_lr: float, cfg: ScheduleConfig) -> float:
    """The learning rate used for the update at ``step`` (0-based) of ``total_steps``.

    Warmup: steps 0..W-1 rise linearly, ``peak * (step + 1) / W``, reaching the peak at
    step W-1. Decay: over the remaining steps, progress p = (step - W) / (T - W - 1) runs
    from 0 at the first post-warmup step to 1 at the last step, and the rate is
    ``peak * m(p)`` with f = ``final_fraction``:

    - constant: m = 1
    - linear: m = 1 - (1 - f) * p
    - cosine: m = f + (1 - f) * (1 + cos(pi * p)) / 2
    - exponential: m = f ** p
    - step: m = gamma ** (number of ``milestones`` fractions of T that step has reached)
    """
    warmup = min(cfg.warmup_steps, total_steps)
    if step < warmup:
        return peak_lr * (step + 1) / warmup
    decay_steps = total_steps - warmup
    p = (step - warmup) / (decay_steps - 1) if decay_steps > 1 else 1.0
    f = cfg.final_fraction
    if cfg.name == "constant":
        m = 1.0
    elif cfg.name == "linear":
        m = 1.0 - (1.0 - f) * p
    elif cfg.name == "cosine":
        m = f + (1.0 - f) * 0.5 * (1.0 + math.cos(math.pi * p))
    elif cfg.name == "exponential":
        m = f**p
    elif cfg.name == "step":
        m = cfg.gamma ** sum(step >= round(frac * total_steps) for frac in cfg.milestones)
    else:
        raise ValueError(f"unknown schedule {cfg.name!r}")
    return peak_lr * m
