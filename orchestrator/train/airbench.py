"""An airbench-style convnet: a frozen whitening stem, then a few wide conv groups.

After Keller Jordan's airbench94 (performance.md 1.2), the net behind the fastest public
CIFAR-10 runs: a 2x2 patch-whitening convolution whose weights are computed from the
training images and never trained, then groups of (3x3 conv, 2x2 max-pool, batch norm,
activation, 3x3 conv, batch norm, activation) of widths 64/256/256, a global max-pool and
a bias-free linear head whose logits are scaled down by 9. It is fast because it is
shallow and wide (few kernel launches, each with plenty of work for a GPU) and has no
residual adds. Kept from airbench: the whitening stem, the identity ("dirac")
initialisation of each group's convolutions, batch norm with frozen scales (only its
shift trains), momentum 0.6 and eps 1e-12, and the 1/9 logit scale. Left to the
training config: the optimizer and schedule, label smoothing, augmentation. Left out: the
stem bias being frozen after a few epochs, lookahead/EMA and test-time augmentation.

``model.width`` is the first group's width (64 in airbench) and later groups are 4x as
wide; ``model.depth`` is the number of groups (3 in airbench).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from orchestrator.train.config import ModelConfig
from orchestrator.train.layers import activation, dropout, norm2d

WIDTH_MULTIPLIER = 4  # groups after the first: airbench94's 64 -> 256
LOGIT_SCALE = 1 / 9  # airbench94's output scaling
# Images whose patch covariance sets the stem. airbench takes 5000; 1024 images of 32 px
# are a million patches for a 12 x 12 covariance, and a fifth of the time on a CPU.
WHITENING_IMAGES = 1024
WHITENING_EPS = 5e-4  # added to the eigenvalues: do not blow up near-constant directions


class AirbenchBatchNorm(nn.BatchNorm2d):
    """Batch norm with a frozen unit scale: only the shift trains (airbench's variant).

    Why: with the scale fixed the network's output scale is set by the logit scale alone,
    which is what makes airbench's high learning rates stable.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, eps=1e-12, momentum=0.4)  # airbench: 0.6 of the old stats
        self.weight.requires_grad_(False)


class WhiteningStem(nn.Module):
    """A 2x2 convolution (no padding) with ``2 * C * 4`` outputs and frozen weights.

    ``fit_to`` sets the weights to the patch-whitening transform of some images and its
    negation (so a following activation sees both signs); until then they keep the random
    initialisation (a fixed random projection), which is what a caller without data gets.
    """

    def __init__(self, in_channels: int, kernel_size: int = 2) -> None:
        super().__init__()
        out_channels = 2 * in_channels * kernel_size**2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=True)
        self.conv.weight.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(x)
        return out

    @torch.no_grad()
    def fit_to(self, images: torch.Tensor, chunk: int = 512) -> None:
        """Whitening weights from the covariance of every ``k x k`` patch of ``images``.

        The covariance is accumulated over chunks of images on the images' device (each
        chunk's products in float32, their sum in float64), so memory stays bounded
        whatever the number of images.
        """
        c, k = self.conv.in_channels, self.conv.kernel_size[0]
        dim = c * k * k
        cov = torch.zeros(dim, dim, dtype=torch.float64, device=images.device)
        count = 0
        for start in range(0, images.shape[0], chunk):
            x = images[start : start + chunk].float()
            patches = x.unfold(2, k, 1).unfold(3, k, 1)  # (N, C, H', W', k, k)
            flat = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, dim)
            cov += (flat.T @ flat).double()
            count += flat.shape[0]
        eigenvalues, eigenvectors = torch.linalg.eigh(cov / count)
        filters = (eigenvectors.T / torch.sqrt(eigenvalues + WHITENING_EPS)[:, None]).flip(0)
        weight = torch.cat((filters, -filters)).reshape(self.conv.weight.shape)
        self.conv.weight.copy_(weight.to(self.conv.weight))


class ConvGroup(nn.Module):
    """conv, (pool), norm, activation, conv, norm, activation: airbench's ``ConvGroup``."""

    def __init__(self, cfg: ModelConfig, in_channels: int, out_channels: int, pool: bool):
        super().__init__()

        def norm() -> nn.Module:
            if cfg.norm == "batch":
                return AirbenchBatchNorm(out_channels)
            return norm2d(cfg.norm, out_channels)

        bias = cfg.norm == "none"
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias)
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()
        self.norm1 = norm()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias)
        self.norm2 = norm()
        self.act = activation(cfg.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm1(self.pool(self.conv1(x))))
        out: torch.Tensor = self.act(self.norm2(self.conv2(x)))
        return out


class AirbenchNet(nn.Module):
    """Whitening stem, ``depth`` conv groups, global max-pool, scaled bias-free linear head.

    Each group halves the resolution while the image is at least 2 px, so any image size
    the data sets allow (8 px and up) works.
    """

    def __init__(self, cfg: ModelConfig, input_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        channels, size = input_shape[0], input_shape[1]
        self.stem = WhiteningStem(channels)
        self.stem_act = activation(cfg.activation)
        channels, size = self.stem.conv.out_channels, size - 1
        groups: list[nn.Module] = []
        for i in range(cfg.depth):
            width = cfg.width if i == 0 else cfg.width * WIDTH_MULTIPLIER
            groups.append(ConvGroup(cfg, channels, width, pool=size >= 2))
            channels, size = width, max(1, size // 2)
        self.groups = nn.Sequential(*groups)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.drop = dropout(cfg)
        self.head = nn.Linear(channels, num_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.groups(self.stem_act(self.stem(x)))
        x = self.drop(torch.flatten(self.pool(x), 1))
        logits: torch.Tensor = self.head(x) * LOGIT_SCALE
        return logits

    @torch.no_grad()
    def init_from(self, images: torch.Tensor | None) -> None:
        """airbench's data-independent and data-dependent initialisation, after the scheme's.

        Each group conv's first ``in_channels`` filters become identities (dirac), so at
        initialisation the signal passes through; with ``images`` the stem whitens them.
        """
        for group in self.groups:
            assert isinstance(group, ConvGroup)
            for conv in (group.conv1, group.conv2):
                nn.init.dirac_(conv.weight[: conv.in_channels])
        if images is not None:
            self.stem.fit_to(images[:WHITENING_IMAGES])
