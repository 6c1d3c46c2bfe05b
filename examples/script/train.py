"""An argparse training script, tuned as a command: ``python train.py --lr 0.01 --epochs 20``.

A plain script, as many people have: flags in, metrics out. It reports per-epoch metrics
through ``trial_report`` (standard library only; a no-op when the orchestrator is not
running it), so each trial gets curves and can be stopped early. Nothing else in it knows
about the orchestrator. The data: scikit-learn's bundled 8x8 digits (real, offline); the
model: a softmax regression on random ReLU features in NumPy. It reads the data file
scikit-learn ships without importing scikit-learn (that import alone takes seconds), so a
trial's process starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

try:
    from trial_report import final, report
except ImportError:  # run without the orchestrator's environment: nothing to report to

    def report(step: int, **metrics: float) -> bool:
        return False

    def final(**metrics: float) -> None:
        return None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate")
    parser.add_argument("--l2", type=float, default=1e-4, help="weight decay")
    parser.add_argument("--features", type=int, default=256, help="random ReLU features")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    x_train, y_train, x_val, y_val = digits_split()
    projection = rng.normal(0, 1 / np.sqrt(64), size=(64, args.features))
    featurize = lambda a: np.maximum(a @ projection, 0.0)  # noqa: E731
    f_train, f_val = featurize(x_train), featurize(x_val)
    weights = np.zeros((args.features, 10))
    onehot = np.eye(10)[y_train]
    best_acc = 0.0
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(f_train))
        for start in range(0, len(order), args.batch_size):
            idx = order[start : start + args.batch_size]
            logits = f_train[idx] @ weights
            probs = np.exp(logits - logits.max(1, keepdims=True))
            probs /= probs.sum(1, keepdims=True)
            grad = f_train[idx].T @ (probs - onehot[idx]) / len(idx) + args.l2 * weights
            weights -= args.lr * grad
        train_loss = _loss(f_train @ weights, y_train)
        val_logits = f_val @ weights
        val_loss = _loss(val_logits, y_val)
        val_acc = float((val_logits.argmax(1) == y_val).mean())
        best_acc = max(best_acc, val_acc)
        print(
            f"epoch {epoch}: train_loss={train_loss:.4f} val_loss={val_loss:.4f} "
            f"val_acc={val_acc:.4f}",
            flush=True,
        )
        if report(epoch, train_loss=train_loss, val_loss=val_loss, val_acc=val_acc):
            break  # the orchestrator asked this trial to stop
    final(val_acc=best_acc)


def digits_split() -> tuple[np.ndarray, ...]:
    """scikit-learn's 1,797 digits (its bundled ``digits.csv.gz``), pixels in [0, 1]; a
    fixed 80/20 split stratified by class."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    assert spec is not None and spec.submodule_search_locations, "scikit-learn is not installed"
    path = (
        Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    )
    data = np.loadtxt(path, delimiter=",")
    x, y = data[:, :-1] / 16.0, data[:, -1].astype(int)
    split = np.random.default_rng(0)
    val = np.concatenate([split.permutation(np.flatnonzero(y == c))[: round(0.2 * (y == c).sum())]
                          for c in range(10)])  # fmt: skip
    train = np.setdiff1d(np.arange(len(y)), val)
    return x[train], y[train], x[val], y[val]


def _loss(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    loss = -log_probs[np.arange(len(labels)), labels].mean()
    return float(loss) if np.isfinite(loss) else float("nan")


if __name__ == "__main__":
    main()
