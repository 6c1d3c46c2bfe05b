"""Data sets as tensors: the synthetic default and torchvision's CIFAR/MNIST families.

Every data set is returned as whole tensors (small image data sets fit in memory and on
the device), split into train and a held-out validation part with a fixed seed, and
normalised with the training part's per-channel statistics. The official test split is
never read: tuning decisions are made on validation data only.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from orchestrator.exceptions import DataError
from orchestrator.train.config import DataConfig
from orchestrator.train.synthetic import make_synthetic


@dataclass(frozen=True)
class Split:
    """Train and validation tensors on one device: images float (N, C, H, W), labels int64."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.x_train.shape[1:]
        return channels, height, width

    def to(
        self,
        device: torch.device,
        *,
        dtype: torch.dtype | None = None,
        memory_format: torch.memory_format = torch.preserve_format,
    ) -> Split:
        """On ``device``, images in ``dtype`` and ``memory_format`` (labels stay int64)."""

        def images(x: torch.Tensor) -> torch.Tensor:
            return x.to(device, dtype=dtype, memory_format=memory_format)

        return Split(
            images(self.x_train),
            self.y_train.to(device),
            images(self.x_val),
            self.y_val.to(device),
            self.num_classes,
        )


_IDX_FILES = (
    "uncompressed train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
    "and t10k-labels-idx1-ubyte (gunzip the .gz downloads)"
)
# name -> (torchvision class name, number of classes, where the files live, how to get them)
_TORCHVISION = {
    "cifar10": ("CIFAR10", 10, "cifar-10-batches-py/", "extracted cifar-10-python.tar.gz"),
    "cifar100": ("CIFAR100", 100, "cifar-100-python/", "extracted cifar-100-python.tar.gz"),
    "mnist": ("MNIST", 10, "MNIST/raw/", _IDX_FILES),
    "fashion_mnist": ("FashionMNIST", 10, "FashionMNIST/raw/", _IDX_FILES),
}
# What torchvision raises on missing or unreadable files: RuntimeError (not found / bad
# checksum), AssertionError (bad IDX header), pickle and I/O errors (truncated files).
_UNREADABLE = (
    RuntimeError,
    AssertionError,
    ValueError,
    TypeError,
    OSError,
    EOFError,
    pickle.UnpicklingError,
)


def load_split(cfg: DataConfig) -> Split:
    """Load the configured data set on the CPU, split and normalised."""
    if cfg.name == "synthetic":
        images, labels = make_synthetic(
            num_examples=cfg.num_examples,
            num_classes=cfg.num_classes,
            channels=cfg.channels,
            image_size=cfg.image_size,
            label_noise=cfg.label_noise,
            seed=cfg.seed,
        )
        num_classes = cfg.num_classes
    else:
        images, labels, num_classes = _load_torchvision(cfg)
    return split_and_normalise(images, labels, num_classes, cfg)


def split_and_normalise(
    images: torch.Tensor, labels: torch.Tensor, num_classes: int, cfg: DataConfig
) -> Split:
    """Hold out ``cfg.val_size`` examples (seeded by ``cfg.split_seed``) and normalise.

    Why a separate seed: the validation split must be the same for every trial of every
    round, whatever the training seed, or objectives would not be comparable.
    """
    n = images.shape[0]
    if cfg.val_size >= n:
        raise DataError(
            f"data.val_size={cfg.val_size} leaves no training data: the data set has {n} examples"
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.split_seed))
    val_idx, train_idx = order[: cfg.val_size], order[cfg.val_size :]
    if cfg.train_subset is not None:
        train_idx = train_idx[: cfg.train_subset]
    x_train, x_val = images[train_idx], images[val_idx]
    mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
    std = x_train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return Split(
        ((x_train - mean) / std).contiguous(),
        labels[train_idx].contiguous(),
        ((x_val - mean) / std).contiguous(),
        labels[val_idx].contiguous(),
        num_classes,
    )


def _load_torchvision(cfg: DataConfig) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Read a torchvision data set's training files into (float images in [0, 1], labels)."""
    import torchvision.datasets as tvd  # imported here: the synthetic path never needs it

    class_name, num_classes, where, archive = _TORCHVISION[cfg.name]
    root = Path(cfg.root).expanduser()
    try:
        dataset = getattr(tvd, class_name)(root=str(root), train=True, download=cfg.download)
    except _UNREADABLE as err:
        raise DataError(
            f"data.name={cfg.name}: no readable data under {root / where} "
            f"({type(err).__name__}: {err}). "
            f"Put the {archive} files there (data.root={cfg.root!r}), "
            "or set data.download=true on a machine with internet access."
        ) from None
    data = dataset.data
    array = data.numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    images = torch.from_numpy(array).float().div_(255.0)
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(dataset.targets), dtype=torch.int64)
    return images.contiguous(), labels, num_classes
