"""The promotion rule, pure: paired per-seed values in, a verdict with its evidence out.

Kept apart from the orchestration (``promote.py``) so it is tested on numbers alone; the
round's ``promotion:`` section is validated with the rest of the round
(``rounds/promotion_config.py``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from orchestrator.rounds.promotion_config import PromotionConfig


@dataclass(frozen=True)
class Decision:
    """The verdict on paired evidence; ``effect`` is the mean improvement (positive: better)."""

    verdict: str  # promoted | rejected | blocked
    reason: str
    effect: float
    ci_low: float  # (1 - 2 alpha) t-interval: its lower bound > 0 iff the one-sided test passes
    ci_high: float
    p_value: float
    rule: dict[str, Any] = field(default_factory=dict)


def decide(
    candidate: list[float],
    incumbent: list[float],
    *,
    maximize: bool,
    cfg: PromotionConfig,
    blocking: Sequence[str] = (),
    warnings: Sequence[str] = (),
) -> Decision:
    """The decision rule, pure: per-seed improvements d_i (sign so that positive = better)."""
    d = [(c - i) if maximize else (i - c) for c, i in zip(candidate, incumbent, strict=True)]
    n, mean = len(d), statistics.fmean(d)
    se = statistics.stdev(d) / math.sqrt(n)
    # A (1 - 2 alpha) interval matches the one-sided test at alpha: the effect is
    # significant exactly when the lower bound is above zero.
    level = 1 - 2 * cfg.alpha
    half = stats.t.ppf(1 - cfg.alpha, n - 1) * se
    if se > 0:
        p = float(stats.t.sf(mean / se, n - 1))
    else:
        p = 0.0 if mean > 0 else 1.0
    significant = p < cfg.alpha if cfg.rule == "paired_t" else mean > cfg.se_multiple * se
    test = (
        f"one-sided paired t-test p={p:.3g} (alpha {cfg.alpha})"
        if cfg.rule == "paired_t"
        else f"mean/se={mean / se if se else math.inf:.2f} (need > {cfg.se_multiple})"
    )
    rule = {
        "rule": cfg.rule,
        "alpha": cfg.alpha,
        "se_multiple": cfg.se_multiple,
        "min_improvement": cfg.min_improvement,
        "n": n,
        "p_value": p,
    }
    effect = (
        f"mean improvement {mean:+.4g} ({level:.0%} CI {mean - half:+.4g} to {mean + half:+.4g})"
    )
    if blocking and not cfg.force:
        verdict, why = "blocked", "blocked by findings: " + "; ".join(blocking)
    elif significant and mean > cfg.min_improvement:
        verdict, why = "promoted", f"{effect}; {test}"
    elif not significant:
        verdict, why = "rejected", f"{effect} is within seed noise: {test}"
    else:
        verdict, why = "rejected", f"{effect} is not above min_improvement {cfg.min_improvement}"
    if warnings:
        why += " | warnings: " + "; ".join(warnings)
    return Decision(verdict, why, mean, mean - half, mean + half, p, rule)
