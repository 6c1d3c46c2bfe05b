"""A device-resident batch loader: shuffling, random crop and flip as whole-batch tensor ops.

Why not a DataLoader: small image data sets fit on the training device, so batches can
be index slices of one tensor. Augmentation is done for the whole batch at once (one
gather for the crop, one ``where`` for the flip), with no per-example Python work and no
worker processes, so the loader never starves a fast GPU and costs little on a CPU.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad (N, C, H, W) by ``padding`` and crop each image back at a random offset.

    Offsets are drawn per image, uniformly in [0, 2 * padding] on each axis.
    """
    if padding == 0:
        return images
    n, _, h, w = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    dev = images.device
    dy = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=dev)
    dx = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=dev)
    rows = (dy + torch.arange(h, device=dev))[:, :, None]  # (N, H, 1)
    cols = (dx + torch.arange(w, device=dev))[:, None, :]  # (N, 1, W)
    batch = torch.arange(n, device=dev)[:, None, None]
    # Advanced indices separated by a slice put their broadcast dims first: (N, H, W, C).
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)


def random_hflip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(images.shape[0], generator=generator, device=images.device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


class DeviceBatches:
    """Endless shuffled, augmented mini-batches drawn from tensors already on the device.

    Each epoch is a fresh permutation; the last incomplete batch of an epoch is dropped so
    every step sees ``batch_size`` examples. The generator must live on the tensors' device.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        generator: torch.Generator,
        crop_padding: int = 0,
        hflip: bool = False,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        if batch_size > images.shape[0]:
            raise ValueError(
                f"batch_size={batch_size} is larger than the {images.shape[0]} training examples"
            )
        self.images, self.labels = images, labels
        self.batch_size = batch_size
        self.generator = generator
        self.crop_padding, self.hflip = crop_padding, hflip
        self.memory_format = memory_format

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, bs = self.images.shape[0], self.batch_size
        while True:
            order = torch.randperm(n, generator=self.generator, device=self.images.device)
            for start in range(0, n - bs + 1, bs):
                idx = order[start : start + bs]
                yield self._augment(self.images[idx]), self.labels[idx]

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        x = random_crop(x, self.crop_padding, self.generator)
        if self.hflip:
            x = random_hflip(x, self.generator)
        return x.contiguous(memory_format=self.memory_format)
