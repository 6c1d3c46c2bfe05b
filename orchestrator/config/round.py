"""The schema of ``conf/round/*.yaml``: what a round file may say (``rounds/`` checks it).

Lives with the other schemas because the root config (``config/schema.py``) holds a round,
and a next-round draft is read back through ``round_from_dict``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
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
    promote: bool = True  # false: stage=run stops after the analysis (no seed reruns)


def round_from_dict(raw: Mapping[str, Any]) -> RoundConfig:
    """A round config from plain data (a YAML file such as a next-round draft)."""
    fields = dict(raw)
    budget = BudgetConfig(**(fields.pop("budget", None) or {}))
    unknown = set(fields) - set(RoundConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError("round", f"unknown keys {sorted(unknown)}")
    return with_dotted_paths(RoundConfig(**fields, budget=budget))


def round_to_dict(cfg: RoundConfig) -> dict[str, Any]:
    """The round as plain data, its unset (None) top-level fields left out: what the
    next-round draft starts from, and what ``round_from_dict`` reads back."""
    return {k: v for k, v in dataclasses.asdict(cfg).items() if v is not None}


# A nuisance entry is a range or choices (a mapping with one of these keys) or a list of
# alternatives; anything else in ``nuisance`` is a level of a parameter's path.
_SPEC_KEYS = frozenset({"low", "high", "log", "step", "choices", "when"})


def with_dotted_paths(raw: RoundConfig) -> RoundConfig:
    """``raw`` with every parameter named by its dotted path, as round files name them.

    A command-line override ``round.nuisance.optim.lr.low=1e-4`` reaches the round as the
    nested ``{optim: {lr: {low: 1e-4}}}`` beside the file's ``optim.lr`` entry (Hydra splits
    keys at dots); folded here into ``optim.lr``, the override's keys over the file's, so the
    override is checked and used as if the round file had said it."""
    return dataclasses.replace(
        raw,
        scientific=_dotted(raw.scientific, _is_value),
        nuisance=_into_specs(_dotted(raw.nuisance, _is_spec)),
        fixed=_dotted(raw.fixed, _is_value),
    )


def _into_specs(nuisance: dict[str, Any]) -> dict[str, Any]:
    """``optim.lr.lo`` beside the range ``optim.lr`` is a key of that range (misspelt, so
    the range's check names it), not a parameter of its own."""
    out: dict[str, Any] = {}
    for path, node in nuisance.items():
        owner = next(
            (p for p in out if path.startswith(f"{p}.") and isinstance(out[p], Mapping)), None
        )
        if owner is None:
            out[path] = node
        else:
            out[owner] = {**out[owner], path[len(owner) + 1 :]: node}
    return out


def _is_value(node: Any) -> bool:
    return not isinstance(node, Mapping)


def _is_spec(node: Any) -> bool:
    return not isinstance(node, Mapping) or not _SPEC_KEYS.isdisjoint(node) or not node


def _dotted(entries: Mapping[str, Any], is_leaf: Callable[[Any], bool]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, node in entries.items():
        leaves = (
            {str(key): node}
            if is_leaf(node)
            else {f"{key}.{sub}": leaf for sub, leaf in _dotted(node, is_leaf).items()}
        )
        for path, leaf in leaves.items():
            earlier = out.get(path)
            if isinstance(earlier, Mapping) and isinstance(leaf, Mapping):
                leaf = {**earlier, **leaf}  # a range's keys given apart: the later wins
            out[path] = leaf
    return out
