"""An own PyTorch MLP on scikit-learn's bundled 8x8 digits: a function trainer, own knobs.

Nothing here knows about the orchestrator: the config is a DictConfig of this example's
keys (conf/digits.yaml), and ``report`` is a plain callable (``report(step, **metrics)``
returns True when the trial should stop). Run alone: ``python train_digits.py``.
"""

from __future__ import annotations

from typing import Any

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn


def digits_split(seed: int = 0) -> tuple[torch.Tensor, ...]:
    """1,437 training and 360 validation images (fixed split), pixels scaled to [0, 1]."""
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x / 16.0, y, test_size=0.2, random_state=seed, stratify=y
    )
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    as_y = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
    return as_x(x_train), as_y(y_train), as_x(x_val), as_y(y_val)


def mlp(num_layers: int, hidden_units: int, dropout: float) -> nn.Module:
    layers: list[nn.Module] = []
    width = 64
    for _ in range(num_layers):
        layers += [nn.Linear(width, hidden_units), nn.ReLU(), nn.Dropout(dropout)]
        width = hidden_units
    return nn.Sequential(*layers, nn.Linear(width, 10))


def train(cfg: Any, report: Any = None) -> dict[str, float]:
    """Train for ``cfg.epochs`` epochs; report per-epoch metrics; return the best accuracy
    and the validation set's size (the orchestrator reads its sampling noise from it)."""
    torch.manual_seed(cfg.seed)
    x_train, y_train, x_val, y_val = digits_split()
    model = mlp(cfg.model.num_layers, cfg.model.hidden_units, cfg.model.dropout)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay
    )
    loss_fn = nn.CrossEntropyLoss()
    best = 0.0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train))
        total = 0.0
        for start in range(0, len(order), cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            val_loss = loss_fn(logits, y_val).item()
            accuracy = (logits.argmax(1) == y_val).float().mean().item()
        best = max(best, accuracy)
        metrics = {"train_loss": total / len(x_train), "val_loss": val_loss}
        if report is not None and report(epoch, val_accuracy=accuracy, **metrics):
            break  # the orchestrator asked to stop (pruning)
    return {"val_accuracy": best, "val_examples": len(y_val)}


if __name__ == "__main__":
    from omegaconf import OmegaConf

    config = OmegaConf.load(__file__.replace("train_digits.py", "conf/digits.yaml"))
    print(f"best val_accuracy: {train(config)['val_accuracy']:.4f}")
