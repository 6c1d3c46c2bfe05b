"""The promotion rule, pure: paired per-seed values in, a verdict with its evidence out.

Kept apart from the orchestration (``promotion.py``) so it is tested on numbers alone and
so a round's ``promotion:`` section is validated with the rest of the round.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from orchestrator.exceptions import ConfigError

RULES = ("paired_t", "se_multiple")


@dataclass
class PromotionConfig:
    """``round.promotion``: how much evidence a candidate needs."""

    seeds: int | list[int] = 5  # paired reruns: a count (seeds 1..n) or explicit seeds
    rule: str = "paired_t"  # paired_t: one-sided paired t-test | se_multiple
    alpha: float = 0.05  # paired_t: significance level
    se_multiple: float = 2.0  # se_multiple: mean improvement > this x its standard error
    min_improvement: float = 0.0  # in objective units: smaller gains are not worth adopting
    candidate: dict[str, Any] | None = None  # a scientific point, e.g. {model.depth: 3}
    force: bool = False  # promote despite block findings

    @property
    def seed_list(self) -> list[int]:
        return list(range(1, self.seeds + 1)) if isinstance(self.seeds, int) else self.seeds


def parse_promotion(raw: Mapping[str, Any]) -> PromotionConfig:
    """Validate ``round.promotion``; one ConfigError naming the key."""
    names = set(PromotionConfig.__dataclass_fields__)
    for key in raw:
        if key not in names:
            raise ConfigError(f"round.promotion.{key}", f"unknown key; valid: {sorted(names)}")
    cfg = PromotionConfig(**raw)
    seeds = cfg.seed_list
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ConfigError(
            "round.promotion.seeds",
            f"needs at least 2 distinct seeds to measure noise; got {cfg.seeds!r}",
        )
    if cfg.rule not in RULES:
        raise ConfigError("round.promotion.rule", f"must be one of {RULES}; got {cfg.rule!r}")
    if not 0 < cfg.alpha < 0.5:
        raise ConfigError("round.promotion.alpha", f"must lie in (0, 0.5); got {cfg.alpha}")
    if cfg.se_multiple <= 0 or cfg.min_improvement < 0:
        raise ConfigError("round.promotion", "se_multiple must be > 0, min_improvement >= 0")
    return cfg


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
    blocking: list[str] = (),  # type: ignore[assignment]
    warnings: list[str] = (),  # type: ignore[assignment]
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
