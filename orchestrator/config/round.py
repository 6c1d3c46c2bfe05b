"""The schema of ``conf/round/*.yaml``: what a round file may say (``rounds/`` checks it).

Lives with the other schemas because the root config (``config/schema.py``) holds a round,
and a next-round draft is read back through ``round_from_dict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.exceptions import ConfigError


@dataclass
class BudgetConfig:
    """How much each study gets and how it is searched."""

    trials_per_study: int | None = None  # None: what the round's checks need (at least 10)
    sampler: str = "qmc"  # qmc | random | tpe | gp | grid
    seed: int = 0  # sampler seed, shared by the round's studies (paired nuisance points)
    workers: int = 1
    max_failures: int | None = None  # per study, before giving up (None: trials_per_study)
    grid: dict[str, list[Any]] = field(default_factory=dict)  # sampler=grid: path -> values
    pruner: str = "none"  # none | median | successive_halving | hyperband | wilcoxon
    pruner_warmup_steps: int = 0  # median: reports before it may prune; wilcoxon: startup steps
    pruner_startup_trials: int = 5  # median: trials finished before it prunes at all
    pruner_min_resource: int | None = None  # successive_halving/hyperband (None: 40% of length)
    pruner_reduction_factor: int = 3  # successive_halving/hyperband: keep 1 in this many
    racing: bool = True  # a scientific value clearly behind at half its budget stops there


@dataclass
class RoundConfig:
    """The schema of ``conf/round/*.yaml`` (see DESIGN.md and the README)."""

    name: str = ""
    goal: str = ""
    start_from: str = "incumbent"  # incumbent (studies/incumbent.yaml, else base) | base
    trainer: str | None = None  # this round's trainer (wins over trainer._target_)
    scientific: dict[str, list[Any]] = field(default_factory=dict)
    nuisance: dict[str, Any] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    presets: dict[str, Any] = field(default_factory=dict)  # adam_budget: {when: {...}}
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    promotion: dict[str, Any] = field(default_factory=dict)


def round_from_dict(raw: Mapping[str, Any]) -> RoundConfig:
    """A round config from plain data (a YAML file such as a next-round draft)."""
    fields = dict(raw)
    budget = BudgetConfig(**(fields.pop("budget", None) or {}))
    unknown = set(fields) - set(RoundConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError("round", f"unknown keys {sorted(unknown)}")
    return RoundConfig(**fields, budget=budget)
