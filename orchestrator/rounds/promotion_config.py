"""``round.promotion``: how much evidence a candidate needs, validated with the round.

Part of the round's schema (a bad value fails before any store is touched); the rule that
reads it is ``promotion/decision.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.exceptions import ConfigError

RULES = ("paired_t", "se_multiple")
PICKS = ("best", "discounted")  # the candidate: the best trial, or the noise-discounted
NO_GAIN_LOOK = 2  # a first look that only stops a candidate that has shown no gain at all
FIRST_LOOK = 3  # the fewest seeds a look that may promote reads (two degrees of freedom)
LOOK_EVERY = 2  # seeds added between looks


def looks(cap: int) -> list[int]:
    """The seed counts at which sequential reruns read the evidence: 2 (where only a
    candidate with no gain at all stops), 3, 5, 7, ... and the cap (a look one seed before
    the cap is dropped); a cap of 2 is one look."""
    if cap <= NO_GAIN_LOOK:
        return [cap]
    if cap < FIRST_LOOK + 1:
        return [NO_GAIN_LOOK, cap]
    out = list(range(FIRST_LOOK, cap, LOOK_EVERY))
    if out[-1] == cap - 1:
        out.pop()
    return [NO_GAIN_LOOK, *out, cap]


@dataclass
class PromotionConfig:
    """``round.promotion``: how much evidence a candidate needs."""

    seeds: int | list[int] = 10  # paired reruns, at most: a count (seeds 1..n) or the seeds
    sequential: bool = True  # paired_t: look at 2, 3, 5, 7, ... seeds and stop once settled
    pick: str = "best"  # the candidate: best (observed) | discounted (analysis/candidate_rank)
    rule: str = "paired_t"  # paired_t: one-sided paired t-test | se_multiple
    alpha: float = 0.05  # paired_t: significance level
    se_multiple: float = 2.0  # se_multiple: mean improvement > this x its standard error
    min_improvement: float = 0.0  # in objective units: smaller gains are not worth adopting
    candidate: dict[str, Any] | None = None  # a scientific point, e.g. {model.depth: 3}
    force: bool = False  # promote despite block findings

    @property
    def seed_list(self) -> list[int]:
        return list(range(1, self.seeds + 1)) if isinstance(self.seeds, int) else self.seeds

    @property
    def schedule(self) -> list[int]:
        """How many seeds each look reads (``promotion/sequential.py``); one look, all the
        seeds, when not sequential (or with the se_multiple rule)."""
        cap = len(self.seed_list)
        return looks(cap) if self.sequential and self.rule == "paired_t" else [cap]


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
    if not isinstance(cfg.sequential, bool):
        raise ConfigError(
            "round.promotion.sequential", f"must be true or false; got {cfg.sequential!r}"
        )
    if cfg.pick not in PICKS:
        raise ConfigError("round.promotion.pick", f"must be one of {PICKS}; got {cfg.pick!r}")
    if cfg.rule not in RULES:
        raise ConfigError("round.promotion.rule", f"must be one of {RULES}; got {cfg.rule!r}")
    if not 0 < cfg.alpha < 0.5:
        raise ConfigError("round.promotion.alpha", f"must lie in (0, 0.5); got {cfg.alpha}")
    if cfg.se_multiple <= 0 or cfg.min_improvement < 0:
        raise ConfigError("round.promotion", "se_multiple must be > 0, min_improvement >= 0")
    return cfg
