"""Networks built from ``ModelConfig``: MLP, a configurable CNN, ResNet-18 and airbench.

Architecture code only: no data, optimizer or loop logic.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn as nn

from orchestrator.train.airbench import AirbenchNet
from orchestrator.train.config import ModelConfig
from orchestrator.train.layers import activation, dropout, norm1d, norm2d


def build_model(
    cfg: ModelConfig,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    init_data: torch.Tensor | None = None,
) -> nn.Module:
    """Build the configured network for inputs of ``input_shape`` (C, H, W).

    ``init_data`` (training images) is for data-dependent initialisation: airbench's
    whitening stem is computed from it. Other models ignore it; without it airbench's
    stem keeps a fixed random projection (enough for throughput measurements).
    """
    if cfg.name == "mlp":
        model: nn.Module = MLP(cfg, input_shape, num_classes)
    elif cfg.name == "cnn":
        model = CNN(cfg, input_shape[0], input_shape[1], num_classes)
    elif cfg.name == "resnet18":
        model = resnet18_small(cfg, input_shape[0], num_classes)
    elif cfg.name == "airbench":
        model = AirbenchNet(cfg, input_shape, num_classes)
    else:  # validate_experiment rejects this first; kept for direct callers
        raise ValueError(f"model.name must be mlp, cnn, resnet18 or airbench; got {cfg.name!r}")
    initialise(model, cfg.init, cfg.activation)
    if isinstance(model, AirbenchNet):
        model.init_from(init_data)
    return model


class MLP(nn.Module):
    """Flatten, then ``depth`` hidden layers of ``width`` units (linear, norm, act, dropout)."""

    def __init__(self, cfg: ModelConfig, input_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        features = math.prod(input_shape)
        for _ in range(cfg.depth):
            layers += [
                nn.Linear(features, cfg.width),
                norm1d(cfg.norm, cfg.width),
                activation(cfg.activation),
                dropout(cfg),
            ]
            features = cfg.width
        layers.append(nn.Linear(features, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


class ConvBlock(nn.Module):
    """3x3 conv, norm, activation, dropout; with ``residual``, x + block(x) when shapes match."""

    def __init__(self, cfg: ModelConfig, in_channels: int, residual: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, cfg.width, 3, padding=1, bias=cfg.norm == "none")
        self.norm = norm2d(cfg.norm, cfg.width)
        self.act = activation(cfg.activation)
        self.drop = dropout(cfg)
        self.residual = residual and in_channels == cfg.width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.drop(self.act(self.norm(self.conv(x))))
        return x + out if self.residual else out


class CNN(nn.Module):
    """``depth`` conv blocks of ``width`` channels, 2x2 max-pools spread among them, GAP head.

    At most three pools (32 px -> 4 px), placed after evenly spaced blocks, so deeper nets
    add layers at every resolution rather than shrinking the image to nothing.
    """

    def __init__(self, cfg: ModelConfig, in_channels: int, image_size: int, num_classes: int):
        super().__init__()
        max_pools = max(0, int(math.log2(max(image_size, 1))) - 2)  # keep >= 4 px
        pools = min(cfg.depth, 3, max_pools)
        pool_after = {math.ceil((j + 1) * cfg.depth / pools) - 1 for j in range(pools)}
        blocks: list[nn.Module] = []
        channels = in_channels
        for i in range(cfg.depth):
            blocks.append(ConvBlock(cfg, channels, cfg.residual))
            channels = cfg.width
            if i in pool_after:
                blocks.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), dropout(cfg), nn.Linear(cfg.width, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.features(x))
        return out


def resnet18_small(cfg: ModelConfig, in_channels: int, num_classes: int) -> nn.Module:
    """torchvision's ResNet-18 adapted to 32 px inputs: a 3x3 stride-1 stem and no max-pool.

    The original stem (7x7 stride 2, then max-pool) shrinks a 32 px image to 8 px before the
    first block; the CIFAR adaptation keeps the resolution. Stage widths are torchvision's
    (64-512), so ``depth`` and ``width`` do not apply; dropout, when on, precedes the head.
    """
    from torchvision.models import resnet18

    net = resnet18(weights=None, num_classes=num_classes)
    net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    if cfg.use_dropout and cfg.dropout > 0:
        net.fc = nn.Sequential(nn.Dropout(cfg.dropout), net.fc)
    model: nn.Module = net
    return model


def initialise(model: nn.Module, scheme: str, activation: str) -> None:
    """Re-initialise conv and linear weights: He (kaiming) for ReLU-family nets, Xavier otherwise.

    ``default`` keeps PyTorch's own initialisation. Biases start at zero; norm layers keep
    their identity initialisation.
    """
    if scheme == "default":
        return
    nonlinearity: Literal["relu", "tanh"] = "relu" if activation in ("relu", "gelu") else "tanh"
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            if scheme == "kaiming":
                nn.init.kaiming_normal_(module.weight, nonlinearity=nonlinearity)
            else:
                gain = nn.init.calculate_gain(nonlinearity)
                nn.init.xavier_uniform_(module.weight, gain=gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
