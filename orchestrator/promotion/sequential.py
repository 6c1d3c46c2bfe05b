"""Sequential reruns: seeds added in steps until the verdict is settled.

Paired seed reruns are looked at after 2 seeds, then 3, then every 2 more, up to the cap
(``promotion.seeds``: 10 gives looks at 2, 3, 5, 7 and 10; the schedule is
``rounds/promotion_config.looks``). The first look only asks whether the candidate has
shown any gain at all: a mean improvement at or below zero after two seeds stops it (its
chance of being confirmed later is small, and half of the candidates that differ in
nothing stop there). At every later look the paired improvements' one-sided t statistic
is compared with that look's boundary:

- above it (and the mean above ``min_improvement``): **promoted**, no more seeds;
- the interval's upper bound below zero: **worse**, stop;
- below ``FUTILITY_T`` (0.5): no promise of a gain the remaining seeds could confirm, stop;
- otherwise the candidate is promising but unsettled: more seeds.

The boundaries keep the playbook's error rate: under "nothing differs" the paired t
statistics' joint law does not depend on the noise's scale, so one Monte Carlo run
(seeded, so every process gets the same numbers) finds the constant ``c`` for which
``P(any look's t > c (n_max / n)^0.25) = alpha``. The shape spends less at the first
looks than a constant boundary would (3.80, 3.34, 3.07, 2.81 for a cap of 10, against
the fixed ten-seed test's 1.83: the price of stopping early); the futility stops only
lower the false-promotion rate. With fewer than three looks that may promote (a cap of 4
to 6 seeds) an early win would cost the last look too much power (a 2-sd gain promoted in
67% instead of 83% at a cap of 5), so the middle look only stops losers and the last is
the fixed one-sided t-test. Measured (4,000 simulated decisions a design, in
``tests/promotion_tests/test_sequential.py``): with the default cap of 10, 4.3% promoted
when nothing differs (such candidates stop after 2 seeds in half the decisions), a 3-sd
gain promoted in 99.5% at a median of 3 seeds, a 2-sd gain in 91.6% (the fixed five-seed
test: 83%). The look at 2 seeds costs a 2-sd gain 0.2 points of power at a cap of 5 and
saves a sixth of the runs spent on candidates that differ in nothing.

Pure: per-seed improvements in, the look's outcome out; ``promote.py`` trains the seeds.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import stats

from orchestrator.rounds.promotion_config import NO_GAIN_LOOK

FUTILITY_T = 0.5  # below this t the remaining seeds are not worth training
SHAPE = 0.25  # boundary at look n: c x (n_max / n) ** SHAPE
EARLY_WINS_FROM = 3  # looks a schedule needs before a win may stop it early
_SIMULATIONS = 200_000


@cache
def boundaries(schedule: tuple[int, ...], alpha: float) -> tuple[float, ...]:
    """Each look's critical t, so that under "nothing differs" the chance of crossing any
    is ``alpha`` (see the module docstring). A single look is the fixed one-sided t-test;
    the look at 2 seeds never promotes (infinite)."""
    wins = tuple(n for n in schedule if n > NO_GAIN_LOOK) or schedule  # looks that may promote
    never = (math.inf,) * (len(schedule) - len(wins))
    last = wins[-1]
    fixed = float(stats.t.ppf(1 - alpha, last - 1))
    if len(wins) < EARLY_WINS_FROM:  # early wins would cost the last look its power
        return (*never, *([math.inf] * (len(wins) - 1)), fixed)
    rng = np.random.default_rng(20261206)
    d = rng.standard_normal((_SIMULATIONS, last))
    t = np.stack([_t(d[:, :n]) for n in wins], axis=1)
    shape = np.array([(last / n) ** SHAPE for n in wins])
    # some look crosses c x shape exactly when the largest t / shape exceeds c
    c = float(np.quantile((t / shape).max(axis=1), 1 - alpha))
    return (*never, *(float(c * s) for s in shape))


def _t(d: np.ndarray) -> np.ndarray:
    n = d.shape[1]
    t: np.ndarray = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
    return t


@dataclass(frozen=True)
class Look:
    """What one look saw, and what it decided."""

    n: int
    effect: float  # mean paired improvement (positive: the candidate is better)
    ci_low: float  # (1 - 2 alpha) t-interval of the mean
    ci_high: float
    t: float
    bound: float | None  # the critical t of this look (None: this look stops losers only)
    outcome: str  # promote | worse | futile | continue | end

    def line(self) -> str:
        return (
            f"{self.n} seeds: {self.effect:+.4g} ({self.ci_low:+.4g} to {self.ci_high:+.4g}), "
            f"t {self.t:.2f} vs {_bound(self.bound)}: {_SAID[self.outcome]}"
        )


def _bound(bound: float | None) -> str:
    return "no early win" if bound is None else f"{bound:.2f}"


_SAID = {
    "promote": "settled, better",
    "worse": "settled, worse",
    "futile": "no gain in sight, stop",
    "continue": "promising, more seeds",
    "end": "the cap",
}


def look(
    improvements: list[float],
    schedule: list[int],
    alpha: float,
    min_improvement: float = 0.0,
) -> Look:
    """The look after ``len(improvements)`` seeds (one of ``schedule``)."""
    n = len(improvements)
    critical = boundaries(tuple(schedule), alpha)[schedule.index(n)]
    bound = critical if math.isfinite(critical) else None
    mean = statistics.fmean(improvements)
    se = statistics.stdev(improvements) / math.sqrt(n)
    t = mean / se if se > 0 else math.copysign(1e9, mean) if mean else 0.0  # JSON: no inf
    half = float(stats.t.ppf(1 - alpha, n - 1)) * se
    if bound is not None and t > bound and mean > min_improvement:
        outcome = "promote"
    elif mean + half < 0:
        outcome = "worse"
    elif n == schedule[-1]:
        outcome = "end"
    elif n == NO_GAIN_LOOK:  # the first look stops only a candidate with no gain at all
        outcome = "futile" if mean <= 0 else "continue"
    elif t < FUTILITY_T or (mean + half < min_improvement):
        outcome = "futile"
    else:
        outcome = "continue"
    return Look(n, mean, mean - half, mean + half, t, bound, outcome)
