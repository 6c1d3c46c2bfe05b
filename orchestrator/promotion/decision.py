"""The promotion rule, pure: paired per-seed values in, a verdict with its evidence out.

Kept apart from the orchestration (``promote.py``) so it is tested on numbers alone; the
round's ``promotion:`` section is validated with the rest of the round
(``rounds/promotion_config.py``).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from orchestrator.promotion.sequential import Look
from orchestrator.rounds.promotion_config import PromotionConfig
from orchestrator.store.decision_record import Verdict


@dataclass(frozen=True)
class Decision:
    """The verdict on paired evidence; ``effect`` is the mean improvement (positive: better)."""

    verdict: Verdict
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
    d = improvements(candidate, incumbent, maximize=maximize)
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
    verdict, why = verdict_of(
        significant, mean, mean - half, mean + half, f"{effect}; {test}", cfg, blocking
    )
    if warnings:
        why += " | warnings: " + "; ".join(warnings)
    return Decision(verdict, why, mean, mean - half, mean + half, p, rule)


def improvements(
    candidate: Sequence[float], incumbent: Sequence[float], *, maximize: bool
) -> list[float]:
    """Per-seed improvements of the candidate over the incumbent (positive: better)."""
    return [(c - i) if maximize else (i - c) for c, i in zip(candidate, incumbent, strict=True)]


def decide_sequential(
    looked: Sequence[Look],
    cfg: PromotionConfig,
    *,
    blocking: Sequence[str] = (),
    warnings: Sequence[str] = (),
) -> Decision:
    """The verdict of sequential reruns (``sequential.py``): its last look's, with every
    look in the reason and in ``rule["looks"]`` (the ledger keeps them)."""
    last = looked[-1]
    level = 1 - 2 * cfg.alpha
    p = float(stats.t.sf(last.t, last.n - 1))  # the paired reading's df: an upper bound
    evidence = (
        f"mean improvement {last.effect:+.4g} ({level:.0%} CI {last.ci_low:+.4g} to "
        f"{last.ci_high:+.4g}) after {last.n} of at most {len(cfg.seed_list)} seeds; "
        "sequential t, the seeds read as pairs or as independent runs, whichever is "
        "narrower: " + "; ".join(x.line() for x in looked)
    )
    verdict, why = verdict_of(
        last.outcome == "promote", last.effect, last.ci_low, last.ci_high, evidence, cfg, blocking
    )
    if warnings:
        why += " | warnings: " + "; ".join(warnings)
    rule = {
        "rule": "sequential_t",
        "alpha": cfg.alpha,
        "min_improvement": cfg.min_improvement,
        "n": last.n,
        "p_value": p,
        "looks": [dataclasses.asdict(x) for x in looked],
    }
    return Decision(verdict, why, last.effect, last.ci_low, last.ci_high, p, rule)


def verdict_of(
    significant: bool,
    mean: float,
    ci_low: float,
    ci_high: float,
    evidence: str,
    cfg: PromotionConfig,
    blocking: Sequence[str] = (),
) -> tuple[Verdict, str]:
    """(verdict, reason) saying what was seen: better, worse (the interval below zero),
    within noise (the interval straddles zero), better but below ``min_improvement``, or not
    settled (the interval above zero, the rule's bar not met)."""
    if blocking and not cfg.force:
        return Verdict.BLOCKED, "blocked by findings: " + "; ".join(blocking)
    if significant and mean > cfg.min_improvement:
        return Verdict.PROMOTED, evidence
    if ci_high < 0:
        return Verdict.REJECTED, f"worse: the candidate's interval lies below zero: {evidence}"
    if significant:
        return Verdict.REJECTED, (
            f"better, but below min_improvement {cfg.min_improvement:g}: {evidence}"
        )
    if ci_low > 0:  # above zero, short of the rule's bar (a sequential boundary, se_multiple)
        return (
            Verdict.REJECTED,
            f"not settled: the interval is above zero, the rule's bar is not met: {evidence}",
        )
    if cfg.min_improvement > 0 and ci_high < cfg.min_improvement:
        return Verdict.REJECTED, (
            f"no gain of min_improvement {cfg.min_improvement:g} in sight: {evidence}"
        )
    return Verdict.REJECTED, f"within seed noise (the interval straddles zero): {evidence}"
