"""Sequential reruns: seeds added in steps until the verdict is settled.

Paired seed reruns are looked at after 2 seeds, then 3, then every 2 more, up to the cap
(``promotion.seeds``: 10 gives looks at 2, 3, 5, 7 and 10; the schedule is
``rounds/promotion_config.looks``). The first look only asks whether the candidate has
shown any gain at all: a mean improvement at or below zero after two seeds stops it (its
chance of being confirmed later is small, and half of the candidates that differ in
nothing stop there). At every later look the mean improvement's one-sided t statistic is
compared with that look's boundary:

- above it (and the mean above ``min_improvement``): **promoted**, no more seeds;
- the interval's upper bound below zero: **worse**, stop;
- below ``FUTILITY_T`` (0.5): no promise of a gain the remaining seeds could confirm, stop;
- otherwise the candidate is promising but unsettled: more seeds.

Two readings of the same seeds: as pairs (the per-seed improvements' spread, n - 1
degrees of freedom) or as independent runs (each side's own spread, Welch's degrees of
freedom, up to 2n - 2). A seed makes the candidate's run like the incumbent's only as far
as it fixes the same initial weights and data order; between configurations of other
shapes or batch sizes it pairs next to nothing (measured on the recorded tables: a
correlation of 0.0-0.18 between two configurations' runs of one seed), and then the pairs
cost half the degrees of freedom, which at 3-5 seeds is most of the power. Each look
takes the reading with the narrower interval; its t, interval and boundary are that
reading's, and the ledger records which it was (``view``).

The boundaries keep the playbook's error rate for having had two readings to pick from:
under "nothing differs" the statistic (the mean over the narrower reading's critical
width) has a law free of the noise's scale, so one Monte Carlo run (seeded, so every
process gets the same numbers) of independent runs, where picking costs the most, finds
the constant ``c`` for which ``P(any look's statistic > c x shape) = alpha``; positively
correlated seeds only make it more conservative (the independent reading overstates the
spread), and so do the futility stops. The shape is ``(n_max / n)^0.25`` in paired-t
units, spending little at the first looks (4.09, 3.60, 3.31, 3.03 as paired t for a cap
of 10, against the fixed ten-seed test's 1.83: the price of stopping early and of two
readings). With fewer than three looks that may promote (a cap of 4 to 6 seeds) an early
win would cost the last look too much power, so the middle look only stops losers and
the last is the fixed test of the narrower reading, its bar raised by 10-16%.

Measured on 4,000 simulated decisions a design (``tests/promotion_tests/
test_sequential.py``; gains in single-run noise sds): when the seed pairs nothing,
4.7-4.9% promoted when nothing differs, and at a cap of 10 a 1-sd gain in 44% (pairs
alone: 43%), 2 sd in 94% (92%), 3 sd in 99.8% at a median of 3 seeds; at a cap of 5, 1 sd
in 40% (38%), 2 sd in 86% (83%); at a cap of 4, 2 sd in 76% (71%). When the seed makes the
two runs correlated 0.5, 4.1-4.5% when nothing differs, and the price of two readings: a
1-sd gain in 65% against 69% (cap 10), 54% against 58% (cap 5). Positive correlations
never raise the error rate (0.3 to 0.9: tested), nor one side twice as noisy (tested).

Pure: both sides' per-seed values in, the look's outcome out; ``promote.py`` trains the
seeds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import stats

from orchestrator.rounds.promotion_config import NO_GAIN_LOOK
from orchestrator.store.decision_record import NO_SPREAD_T, t_text

FUTILITY_T = 0.5  # below this t the remaining seeds are not worth training
SHAPE = 0.25  # boundary at look n: c x (n_max / n) ** SHAPE
EARLY_WINS_FROM = 3  # looks a schedule needs before a win may stop it early
_SIMULATIONS = 200_000
PAIRED, INDEPENDENT = "paired", "independent"  # the two readings of the same seeds


@dataclass(frozen=True)
class Reading:
    """One reading of n seeds of both sides: its standard error and one-sided critical t."""

    view: str  # paired | independent
    se: float
    critical: float  # the fixed one-sided t-test's bar at alpha for this reading

    @property
    def width(self) -> float:
        return self.critical * self.se


def readings(candidate: Sequence[float], incumbent: Sequence[float], alpha: float) -> Reading:
    """The narrower of the two readings of paired seeds: as pairs (the per-seed
    improvements' spread, n - 1 degrees of freedom) or as independent runs (each side's
    own spread, Welch's degrees of freedom, up to 2n - 2). A seed shared by two runs makes
    them alike only as far as it fixes the same initial weights and data order; where it
    does little (other shapes, other batch sizes), the pairs buy nothing and cost half the
    degrees of freedom. The boundaries are calibrated for taking the narrower one."""
    n = len(candidate)
    gains = [c - i for c, i in zip(candidate, incumbent, strict=True)]
    paired = Reading(PAIRED, statistics.stdev(gains) / math.sqrt(n), _critical(alpha, n - 1))
    var_c, var_i = statistics.variance(candidate), statistics.variance(incumbent)
    se = math.sqrt((var_c + var_i) / n)
    df = (var_c + var_i) ** 2 / ((var_c**2 + var_i**2) / (n - 1)) if se > 0 else n - 1
    independent = Reading(INDEPENDENT, se, _critical(alpha, df))
    return min(paired, independent, key=lambda r: (r.width, r.view != PAIRED))


def _critical(alpha: float, df: float) -> float:
    return float(stats.t.ppf(1 - alpha, df))


@cache
def boundaries(schedule: tuple[int, ...], alpha: float) -> tuple[float, ...]:
    """Each look's bar on the normalised statistic (the mean improvement over the narrower
    reading's critical width; 1 is that reading's fixed test), so that under "nothing
    differs" the chance of crossing any look is ``alpha`` (module docstring). The look at 2
    seeds never promotes (infinite)."""
    wins = tuple(n for n in schedule if n > NO_GAIN_LOOK) or schedule  # looks that may promote
    never = (math.inf,) * (len(schedule) - len(wins))
    rng = np.random.default_rng(20261206)
    cand = rng.standard_normal((_SIMULATIONS, wins[-1]))
    inc = rng.standard_normal((_SIMULATIONS, wins[-1]))
    z = np.stack([_normalised(cand[:, :n], inc[:, :n], alpha) for n in wins], axis=1)
    if len(wins) < EARLY_WINS_FROM:  # early wins would cost the last look its power
        last = float(np.quantile(z[:, -1], 1 - alpha))
        return (*never, *([math.inf] * (len(wins) - 1)), last)
    # the shape in paired-t units (c x (n_max / n) ** SHAPE), as a bar on z: over a look's
    # paired critical t, so the early looks spend as little as with pairs alone
    shape = np.array([(wins[-1] / n) ** SHAPE / _critical(alpha, n - 1) for n in wins])
    # some look crosses c x shape exactly when the largest z / shape exceeds c
    c = float(np.quantile((z / shape).max(axis=1), 1 - alpha))
    return (*never, *(float(c * s) for s in shape))


def _normalised(cand: np.ndarray, inc: np.ndarray, alpha: float) -> np.ndarray:
    """``readings`` over many simulated decisions at once: mean / the narrower width."""
    n = cand.shape[1]
    d = cand - inc
    paired = _critical(alpha, n - 1) * d.std(axis=1, ddof=1) / math.sqrt(n)
    var_c, var_i = cand.var(axis=1, ddof=1), inc.var(axis=1, ddof=1)
    df = (var_c + var_i) ** 2 / ((var_c**2 + var_i**2) / (n - 1))
    independent = stats.t.ppf(1 - alpha, df) * np.sqrt((var_c + var_i) / n)
    z: np.ndarray = d.mean(axis=1) / np.minimum(paired, independent)
    return z


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
    view: str = PAIRED  # the reading t, bound and interval are of (paired in earlier ledgers)

    def line(self) -> str:
        return (
            f"{self.n} seeds: {self.effect:+.4g} ({self.ci_low:+.4g} to {self.ci_high:+.4g}), "
            f"t {t_text(self.t)} {self.view} vs {_bound(self.bound)}: {_SAID[self.outcome]}"
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
    candidate: Sequence[float],
    incumbent: Sequence[float],
    schedule: list[int],
    alpha: float,
    min_improvement: float = 0.0,
) -> Look:
    """The look after ``len(candidate)`` paired seeds (one of ``schedule``); both sides'
    values signed so that larger is better."""
    n = len(candidate)
    mean = statistics.fmean(candidate) - statistics.fmean(incumbent)
    reading = readings(candidate, incumbent, alpha)
    bar = boundaries(tuple(schedule), alpha)[schedule.index(n)]
    bound = bar * reading.critical if math.isfinite(bar) else None
    t = mean / reading.se if reading.se > 0 else math.copysign(NO_SPREAD_T, mean) if mean else 0.0
    half = reading.width  # the (1 - 2 alpha) interval of this reading
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
    return Look(n, mean, mean - half, mean + half, t, bound, outcome, reading.view)
