"""A regression trainer that keeps a CSV log, in the style of common public scripts
(``CSVLogger``-like): ``python train.py --degree 5 --log-file log.csv`` writes a header of
column names, then a row per epoch (``epoch,train_mse,val_mse,lr``). It prints nothing
that matters and knows nothing of the orchestrator.

The model: polynomial features of one input fitted to a noisy sine by full-batch gradient
descent with momentum and an L2 penalty, in NumPy; a fraction of a second per run.
"""

from __future__ import annotations

import argparse
import csv

import numpy as np


def features(x: np.ndarray, degree: int) -> np.ndarray:
    """1, x, x^2, ... x^degree of inputs in [-1, 1] (Legendre polynomials: well scaled)."""
    return np.polynomial.legendre.legvander(x, degree)


def sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    return x, np.sin(3 * x) + 0.3 * x**2 + rng.normal(0, 0.15, n)


def main() -> None:
    parser = argparse.ArgumentParser(description="Polynomial regression with a CSV log")
    parser.add_argument("--degree", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-file", default="log.csv")
    args = parser.parse_args()

    x_train, y_train = sample(60, 100 + args.seed)
    x_val, y_val = sample(400, 1)
    f_train, f_val = features(x_train, args.degree), features(x_val, args.degree)
    coef = np.zeros(args.degree + 1)
    velocity = np.zeros_like(coef)
    with open(args.log_file, "w", newline="") as handle:
        log = csv.DictWriter(handle, fieldnames=["epoch", "train_mse", "val_mse", "lr"])
        log.writeheader()
        for epoch in range(1, args.epochs + 1):
            residual = f_train @ coef - y_train
            grad = 2 * f_train.T @ residual / len(y_train) + args.l2 * coef
            velocity = args.momentum * velocity - args.lr * grad
            coef += velocity
            train_mse = float(np.mean((f_train @ coef - y_train) ** 2))
            val_mse = float(np.mean((f_val @ coef - y_val) ** 2))
            log.writerow({"epoch": epoch, "train_mse": f"{train_mse:.6g}",
                          "val_mse": f"{val_mse:.6g}", "lr": args.lr})  # fmt: skip
            handle.flush()
    print(f"done: val_mse {val_mse:.4f}")


if __name__ == "__main__":
    main()
