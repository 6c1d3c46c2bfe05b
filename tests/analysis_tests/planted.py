"""Planted-truth studies for measuring the checks' recall and false alarms.

A study like ``round_1``'s: ten trials per study (scrambled Sobol, as ``sampler: qmc``)
over a log learning-rate range and a linear momentum range. The objective is a validation
error whose optimum is planted where a case needs it (beyond an edge, inside the range,
or nowhere: an ignored param), saturating like a real error and blurred by noise. Every
case is a pure function of its seed, so a rate is a count over seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.stats import qmc

from orchestrator.analysis.model import StudyRecord, TrialRecord

SPACE = {
    "optimizer.lr": [{"low": 0.01, "high": 3.0, "log": True}],
    "optimizer.momentum": [{"low": 0.5, "high": 0.98}],
}
SEEDS = range(40)


def value_at(path: str, u: float) -> float:
    """The param value at position ``u`` of its range, in its own scale."""
    spec = SPACE[path][0]
    if spec.get("log"):
        low, high = math.log10(spec["low"]), math.log10(spec["high"])
        return float(10 ** (low + u * (high - low)))
    return float(spec["low"] + u * (spec["high"] - spec["low"]))


def planted_study(
    seed: int,
    lr_optimum: float | None,
    momentum_optimum: float | None = None,
    *,
    trials: int = 10,
    noise: float = 0.05,
    infeasible_above: float | None = None,
) -> StudyRecord:
    """A study of ``val_error`` whose optimum lies at the given positions (in range units:
    ``1.8`` is far beyond the high edge; None: the objective ignores the param).
    ``infeasible_above``: trials with momentum above this position diverge."""
    rng = np.random.default_rng(10_000 + seed)
    if momentum_optimum is None:
        momentum_optimum = float(rng.uniform(0.3, 0.7))
    u = qmc.Sobol(2, scramble=True, seed=seed).random(trials)
    bowl = (u[:, 1] - momentum_optimum) ** 2
    if lr_optimum is not None:
        bowl = bowl + (u[:, 0] - lr_optimum) ** 2
    bowl = bowl / max(float(np.ptp(bowl)), 1e-12)
    error = 0.1 + 0.8 * (1 - np.exp(-2 * bowl)) + noise * rng.standard_normal(trials)
    records = []
    for i, (lr, momentum) in enumerate(u):
        params = {
            "optimizer.lr": value_at("optimizer.lr", lr),
            "optimizer.momentum": value_at("optimizer.momentum", momentum),
        }
        diverged = infeasible_above is not None and momentum > infeasible_above
        records.append(
            TrialRecord(
                number=i,
                state="infeasible" if diverged else "complete",
                value=None if diverged else float(error[i]),
                params=params,
                infeasible_reason="loss is nan" if diverged else None,
            )
        )
    return StudyRecord(
        name=f"planted{seed}",
        point={},
        direction="minimize",
        metric="val_error",
        search_space=SPACE,
        trials=records,
    )


def rate(fires: Callable[[int], bool]) -> float:
    """The fraction of :data:`SEEDS` on which ``fires(seed)`` holds."""
    return sum(fires(seed) for seed in SEEDS) / len(SEEDS)


def bowl_study(
    seed: int,
    *,
    trials: int = 16,
    width: float | None = None,
    noise: float = 0.01,
    val_examples: int | None = 1000,
) -> StudyRecord:
    """A one-param study (momentum): a smooth bowl with its optimum inside the range, or,
    with ``width``, a narrow dip of that width centred on one trial (hit once)."""
    rng = np.random.default_rng(20_000 + seed)
    u = qmc.Sobol(1, scramble=True, seed=seed).random(trials)[:, 0]
    if width is None:
        optimum = float(rng.uniform(0.2, 0.8))
        error = 0.1 + 0.5 * (u - optimum) ** 2
    else:
        optimum = float(u[int(rng.integers(trials))])
        error = 0.6 - 0.5 * np.exp(-0.5 * ((u - optimum) / width) ** 2)
    error = error + noise * rng.standard_normal(trials)
    records = [
        TrialRecord(
            i, "complete", float(e), {"optimizer.momentum": value_at("optimizer.momentum", x)}
        )
        for i, (x, e) in enumerate(zip(u, error, strict=True))
    ]
    return StudyRecord(
        name=f"bowl{seed}",
        point={},
        direction="minimize",
        metric="val_error",
        search_space={"optimizer.momentum": SPACE["optimizer.momentum"]},
        trials=records,
        val_examples=val_examples,
    )
