"""The boundary check's recall and false alarms on planted studies at round_1's budget.

Ten trials per study over two params (a log learning rate, a linear momentum), 40 seeds a
case. The rates are the README's analysis table; the thresholds are the issue's.
"""

from __future__ import annotations

import pytest

from orchestrator.analysis.space_checks import boundary
from orchestrator.config.sections import AnalysisConfig
from tests.analysis_tests.planted import planted_study, rate

CFG = AnalysisConfig()


def edges(seed: int, lr_optimum: float | None, **kwargs: object) -> list[str]:
    study = planted_study(seed, lr_optimum, **kwargs)  # type: ignore[arg-type]
    return [
        next(iter(f.suggestion), "none") for f in boundary(study, CFG) if f.param == "optimizer.lr"
    ]


@pytest.mark.parametrize(("optimum", "edge"), [(1.8, "high"), (-0.8, "low")])
def test_an_optimum_beyond_an_edge_is_found_in_at_least_95_percent(optimum, edge):
    assert rate(lambda seed: edges(seed, optimum) == [edge]) >= 0.95


def test_an_interior_optimum_raises_at_most_5_percent_false_alarms():
    import numpy as np

    def interior(seed: int) -> bool:
        where = float(np.random.default_rng(seed).uniform(0.3, 0.7))
        return bool(edges(seed, where))

    assert rate(interior) <= 0.05


def test_a_param_the_objective_ignores_raises_at_most_5_percent_false_alarms():
    assert rate(lambda seed: bool(edges(seed, None))) <= 0.05


def test_twice_the_noise_lowers_recall_to_no_less_than_70_percent():
    assert rate(lambda seed: edges(seed, 1.8, noise=0.1) == ["high"]) >= 0.7
