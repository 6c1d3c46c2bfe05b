"""A classifier trainer that logs to TensorBoard, in the style of common public scripts:
``python train.py --lr 0.1 --logdir runs/exp1``, scalars written with ``add_scalar`` per
epoch (epochs counted from 0, as ``range(epochs)`` gives them), nothing printed that
matters and nothing that knows the orchestrator.

The model: softmax regression with weight decay, minibatch SGD in NumPy, on a fixed
synthetic problem (8 Gaussian classes in 32 dimensions, overlapping), a second per run.
The scalars go through TensorBoard's own event-file writer (``SummaryWriter`` from torch
writes the same files; importing torch would take longer than the training).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter


class SummaryWriter:
    """The ``add_scalar`` part of the usual ``SummaryWriter``."""

    def __init__(self, logdir: str) -> None:
        self.events = EventFileWriter(logdir, flush_secs=1)

    def add_scalar(self, tag: str, value: float, global_step: int) -> None:
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
        self.events.add_event(Event(summary=summary, step=global_step, wall_time=time.time()))

    def flush(self) -> None:
        self.events.flush()

    def close(self) -> None:
        self.events.close()


def blobs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of 8 overlapping Gaussian classes (centres fixed by seed 7)."""
    centres = np.random.default_rng(7).normal(0, 0.6, (8, 32))
    labels = rng.integers(0, 8, n)
    return centres[labels] + rng.normal(0, 1.0, (n, 32)), labels


def evaluate(weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    logits = x @ weights
    logits -= logits.max(1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean()), float((logits.argmax(1) == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description="Softmax regression, logged to TensorBoard")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="where the event files go")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    x_train, y_train = blobs(2000, np.random.default_rng(1))
    x_val, y_val = blobs(1000, np.random.default_rng(2))
    weights = np.zeros((32, 8))
    writer = SummaryWriter(args.logdir)
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), args.batch_size):
            idx = order[start : start + args.batch_size]
            logits = x_train[idx] @ weights
            probs = np.exp(logits - logits.max(1, keepdims=True))
            probs /= probs.sum(1, keepdims=True)
            probs[np.arange(len(idx)), y_train[idx]] -= 1.0
            weights -= args.lr * (x_train[idx].T @ probs / len(idx) + args.weight_decay * weights)
        train_loss = evaluate(weights, x_train, y_train)[0]
        val_loss, val_acc = evaluate(weights, x_val, y_val)
        writer.add_scalar("train/loss", train_loss, epoch)
        writer.add_scalar("val/loss", val_loss, epoch)
        writer.add_scalar("val/acc", val_acc, epoch)
        writer.flush()
        print(f"epoch {epoch} done")
    writer.close()


if __name__ == "__main__":
    main()
