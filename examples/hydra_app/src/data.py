"""The data: scikit-learn's bundled 8x8 digits (1,797 real handwritten images), a fixed
stratified split (cf. the template's ``MNISTDataModule``)."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def digits_tensors(val_fraction: float, split_seed: int) -> tuple[torch.Tensor, ...]:
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x / 16.0, y, test_size=val_fraction, random_state=split_seed, stratify=y
    )
    return (
        torch.tensor(x_train, dtype=torch.float32),
        torch.tensor(y_train, dtype=torch.long),
        torch.tensor(x_val, dtype=torch.float32),
        torch.tensor(y_val, dtype=torch.long),
    )
