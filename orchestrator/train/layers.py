"""Layer choices shared by the networks: activation, normalisation and dropout from config.

One place maps the config's names (``model.activation``, ``model.norm``) to modules, so
every architecture reads them the same way.
"""

from __future__ import annotations

import torch.nn as nn

from orchestrator.train.config import ModelConfig

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def dropout(cfg: ModelConfig) -> nn.Module:
    """Dropout at ``model.dropout`` when ``model.use_dropout``; otherwise nothing."""
    return nn.Dropout(cfg.dropout) if cfg.use_dropout and cfg.dropout > 0 else nn.Identity()


def norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # LayerNorm over (C, H, W), written as one-group GroupNorm
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def norm1d(kind: str, features: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.LayerNorm(features)
    return nn.Identity()
