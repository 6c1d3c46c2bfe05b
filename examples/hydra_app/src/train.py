"""A Hydra application in the lightning-hydra-template style: ``configs/`` with ``data/``,
``model/``, ``trainer/`` and ``paths/`` groups, ``@hydra.main`` on ``main``, the optimized
metric returned. It knows nothing of the orchestrator: run it alone with
``python -m src.train model.optimizer.lr=0.01``. ``trial_report`` is optional: when the
orchestrator runs the app its per-epoch metrics become the trial's curves.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig
from torch import nn

from src.data import digits_tensors

try:  # reports per-epoch metrics when the tuning-round orchestrator runs this app
    from trial_report import report
except ImportError:  # anywhere else: nothing to report to

    def report(step: int, **metrics: float) -> bool:
        return False


log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train ``cfg.model.net`` for ``cfg.trainer.max_epochs`` epochs; the best metrics."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.trainer.threads)
    x_train, y_train, x_val, y_val = digits_tensors(cfg.data.val_fraction, cfg.data.split_seed)
    net: nn.Module = hydra.utils.instantiate(cfg.model.net)
    optimizer = hydra.utils.instantiate(cfg.model.optimizer)(params=net.parameters())
    loss_fn = nn.CrossEntropyLoss()
    best = {"val/acc": 0.0, "val/loss": float("inf")}
    for epoch in range(1, cfg.trainer.max_epochs + 1):
        net.train()
        order = torch.randperm(len(x_train))
        losses = []
        for start in range(0, len(order), cfg.data.batch_size):
            idx = order[start : start + cfg.data.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(net(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        train_loss = sum(losses) / len(losses)  # the epoch's mean
        net.eval()
        with torch.no_grad():
            logits = net(x_val)
            val_loss = loss_fn(logits, y_val).item()
            val_acc = (logits.argmax(1) == y_val).float().mean().item()
        if val_acc > best["val/acc"]:
            best = {"val/acc": val_acc, "val/loss": val_loss}
        log.debug(
            "epoch %d: train/loss=%.4f val/loss=%.4f val/acc=%.4f",
            epoch,
            train_loss,
            val_loss,
            val_acc,
        )
        if report(epoch, **{"train/loss": train_loss, "val/loss": val_loss, "val/acc": val_acc}):
            break  # the orchestrator asks this trial to stop
    return best


@hydra.main(version_base="1.3", config_path="../configs", config_name="train.yaml")
def main(cfg: DictConfig) -> Any:
    """Train, write the metrics into the run's output dir, return the optimized metric."""
    metrics = train(cfg)
    log.info("best: %s", " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    out = Path(cfg.paths.output_dir)
    (out / "metrics.json").write_text(json.dumps(metrics))
    return metrics[cfg.optimized_metric]


if __name__ == "__main__":
    main()
