"""Print every check's recall and false-alarm rate on the planted cases, over many seeds.

The test suite holds each rate over 40 seeds (``test_*_rates.py``); this prints them over
as many as asked, for the README's analysis table:

    uv run python -W ignore -m tests.analysis_tests.rates [--seeds 200]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from tests.analysis_tests import planted
from tests.analysis_tests import planted_curves as curves
from tests.analysis_tests.test_boundary_rates import edges
from tests.analysis_tests.test_curve_rates import fires as curve_fires
from tests.analysis_tests.test_curve_rates import kinds
from tests.analysis_tests.test_density_rates import fires as density_fires


def interior(seed: int) -> float:
    return float(np.random.default_rng(seed).uniform(0.3, 0.7))


def boundary(optimum: float | None, edge: str | None = None, **kw: float) -> float:
    """Recall (``edge`` named) or false alarms (any edge) of the boundary check."""

    def one(seed: int) -> bool:
        where = interior(seed) if optimum == -1 else optimum
        found = edges(seed, where, **kw)
        return found == [edge] if edge else bool(found)

    return planted.rate(one)


def round_1_like(seed: int, trials: int = 10) -> object:
    return planted.planted_study(seed, 0.5, trials=trials)


def density(make: Callable[[int], object]) -> float:
    return planted.rate(lambda seed: density_fires(make(seed)))


def curve(kind: str, make: Callable[[int], object], examples: int | None = None) -> float:
    return curve_fires(kind, make, examples)  # type: ignore[arg-type]


CASES: list[tuple[str, Callable[[], float]]] = [
    ("boundary recall, beyond high", lambda: boundary(1.8, "high")),
    ("boundary recall, beyond low", lambda: boundary(-0.8, "low")),
    ("boundary false alarms, interior", lambda: boundary(-1)),
    ("boundary false alarms, ignored param", lambda: boundary(None)),
    ("boundary recall, beyond high, noise 0.1", lambda: boundary(1.8, "high", noise=0.1)),
    ("density false alarms, 16-trial bowl", lambda: density(planted.bowl_study)),
    ("density false alarms, round_1-like", lambda: density(round_1_like)),
    ("density recall, narrow dip", lambda: density(lambda s: planted.bowl_study(s, width=0.01))),
    ("density recall, 6 trials", lambda: density(lambda s: round_1_like(s, 6))),
    ("curves, clean run: anything", lambda: planted.rate(lambda s: bool(kinds(curves.clean(s))))),
    ("overfitting false alarms, noise 0.02", lambda: curve("overfitting", curves.flat_noisy_val)),
    ("overfitting false alarms, noise 0.04",
     lambda: curve("overfitting", lambda s: curves.flat_noisy_val(s, noise=0.04))),
    ("overfitting recall, 6 evaluations",
     lambda: curve("overfitting", lambda s: curves.overfitting_val(s, 50, 0.01))),
    ("overfitting recall, 6 evaluations, noise 0.02",
     lambda: curve("overfitting", curves.overfitting_val)),
    ("still_improving recall", lambda: curve("still_improving", curves.still_falling)),
    ("late_variance false alarms, 359 images",
     lambda: curve("late_variance", curves.low_error_small_val, 359)),
    ("late_variance recall", lambda: curve("late_variance", curves.late_wobble, 1000)),
    ("training_loss_rising false alarms",
     lambda: curve("training_loss_rising", curves.loss_near_zero)),
    ("training_loss_rising recall", lambda: curve("training_loss_rising", curves.loss_rising)),
    ("instability false alarms, fresh network",
     lambda: curve("instability", curves.fresh_network_norms)),
    ("instability recall", lambda: curve("instability", curves.spiking_norms)),
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    planted.SEEDS = range(args.seeds)
    for name, measure in CASES:
        print(f"{name:<48} {measure():6.1%}")


if __name__ == "__main__":
    main()
