"""Stopping hopeless trials early (``budget.pruner``), built from Optuna's own pruners.

Pruning pays in exploitation rounds (TPE or GP over the nuisance space, no scientific
values: "find the best configuration"), where most compute goes to trials that are
clearly losing after a fraction of their steps. It distorts exploration rounds, whose
point is insight: a trial cut short has no final value, so it drops out of the boundary,
density and importance checks and the axis plots show a hole where it stood
(PLAYBOOK.md: exploration before exploitation). So pruning is off by default, and turning
it on in an exploration round (``qmc``, ``grid``, or any round with scientific values) is
allowed but warned about, in the round's header and as a ``pruning`` finding.
"""

from __future__ import annotations

from typing import Any

import optuna

from orchestrator.config.round import BudgetConfig
from orchestrator.exceptions import ConfigError
from orchestrator.train.numbers import is_whole

PRUNERS = ("none", "median", "successive_halving", "hyperband", "wilcoxon")
EXPLORING_SAMPLERS = ("qmc", "grid")


MIN_RESOURCE_SHARE = 0.4  # of the training length: the first rung where trials are compared


def default_min_resource(length: int | None) -> int | None:
    """Hyperband's and successive halving's first rung when ``pruner_min_resource`` is unset:
    40% of the study's training length, in the unit its trainer reports steps in.

    Optuna's own default (1 step, or "auto": the first trial's first report) compares trials
    on the noise of their first evaluations, where a slow starter and a loser look alike; on
    the benchmark task hyperband at 1 step never reached the unpruned round's quality in 2 of
    3 seeds, and at 40% it did so with a median 3.2x less compute over 6 seeds
    (tests/benchmarks/RESULTS.md).
    None when the length is unknown (no length key, or not a number)."""
    if length is None or length < 1:
        return None
    return max(1, round(MIN_RESOURCE_SHARE * length))


def make_pruner(b: BudgetConfig, length: int | None = None) -> optuna.pruners.BasePruner:
    """The Optuna pruner ``budget.pruner`` names, with its settings; ``length`` is the study's
    training length (the length key's value), which sets the rungs of hyperband and
    successive halving when ``pruner_min_resource`` is unset."""
    min_resource = b.pruner_min_resource or default_min_resource(length)
    if b.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=b.pruner_startup_trials, n_warmup_steps=b.pruner_warmup_steps
        )
    if b.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=min_resource or "auto",
            reduction_factor=b.pruner_reduction_factor,
        )
    if b.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=min_resource or 1,
            max_resource=length if length and length > (min_resource or 1) else "auto",
            reduction_factor=b.pruner_reduction_factor,
        )
    if b.pruner == "wilcoxon":
        return optuna.pruners.WilcoxonPruner(n_startup_steps=b.pruner_warmup_steps)
    return optuna.pruners.NopPruner()


def check_pruner(b: BudgetConfig) -> None:
    """One ConfigError naming the key, before anything is written."""
    if b.pruner not in PRUNERS:
        raise ConfigError(
            "round.budget.pruner", f"must be one of {', '.join(PRUNERS)}; got {b.pruner!r}"
        )
    ints: dict[str, Any] = {
        "pruner_warmup_steps": (b.pruner_warmup_steps, 0),
        "pruner_startup_trials": (b.pruner_startup_trials, 0),
        "pruner_reduction_factor": (b.pruner_reduction_factor, 2),
        "pruner_min_resource": (b.pruner_min_resource, 1),
    }
    for key, (value, least) in ints.items():
        if value is None and key == "pruner_min_resource":
            continue
        if not is_whole(value) or value < least:
            raise ConfigError(
                f"round.budget.{key}", f"must be an integer >= {least}; got {value!r}"
            )


def exploring(sampler: str, has_scientific: bool) -> bool:
    """An exploration round: quasi-random or grid sampling, or scientific values compared."""
    return sampler in EXPLORING_SAMPLERS or has_scientific


def pruning_warning(b: BudgetConfig, has_scientific: bool) -> str | None:
    """The header's warning when pruning is on in an exploration round, else None."""
    if b.pruner == "none" or not exploring(b.sampler, has_scientific):
        return None
    why = f"sampler {b.sampler}" if b.sampler in EXPLORING_SAMPLERS else "scientific values"
    return (
        f"WARNING: pruner {b.pruner} in an exploration round ({why}): pruned trials have no "
        "final value, so the boundary, density and importance checks and the axis plots miss "
        "them; prune in exploitation rounds (tpe or gp, no scientific values) instead"
    )
