"""What a configuration is truly worth: its mean over every recorded seed, and the regret
against the best configuration of the benchmark's whole grid."""

from __future__ import annotations

import statistics
from functools import cache
from typing import Any

from tests.benchmarks.campaign.project.recorded_mlp import METRIC, bench, recorded
from tests.benchmarks.campaign.tasks import Task

MAXIMIZE = {"hpobench": True, "hpolib": False, "digits": True}


def true_value(task: Task, values: dict[str, Any]) -> float:
    return statistics.fmean(recorded(task.suite, task.name, values))


@cache
def best_true(suite: str, name: str) -> float:
    metric, _ = METRIC[suite]
    means = [statistics.fmean(v[metric]) for v in bench(suite, name)._dataset.values()]
    return max(means) if MAXIMIZE[suite] else min(means)


def regret(task: Task, value: float) -> float:
    """How far a true value is from the best of the grid (>= 0, in the metric's units)."""
    best = best_true(task.suite, task.name)
    return best - value if MAXIMIZE[task.suite] else value - best


def optimism(task: Task, observed: float, true: float) -> float:
    """How much better the answer looked than it is (> 0: it promised too much)."""
    return observed - true if MAXIMIZE[task.suite] else true - observed
