"""A validated round: its studies (one per scientific point), search space, sampling and
trial configs. Built only by ``rounds.validate.parse_round``; conditions (``when:``) are
plain equality data, nothing is eval-ed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from orchestrator.config.experiment import Experiment
from orchestrator.config.round import BudgetConfig
from orchestrator.rounds.promotion_config import PromotionConfig
from orchestrator.rounds.pruning import make_pruner
from orchestrator.rounds.sampling import make_sampler
from orchestrator.train.numbers import is_real


@dataclass(frozen=True)
class ParamSpec:
    """One nuisance alternative: a range or choices, active when every ``when`` pair holds."""

    path: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None
    when: tuple[tuple[str, Any], ...] = ()
    integer: bool = False  # a range of an int-typed parameter

    def distribution(self) -> BaseDistribution:
        if self.choices is not None:
            return CategoricalDistribution(self.choices)
        assert self.low is not None and self.high is not None  # a range: parse_round made sure
        if self.integer:
            step = int(self.step) if self.step is not None else 1
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=step)
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def active(self, lookup: Callable[[str], Any]) -> bool:
        return all(lookup(path) == value for path, value in self.when)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.choices is not None:
            out["choices"] = list(self.choices)
        else:
            out.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                out["step"] = self.step
        if self.when:
            out["when"] = dict(self.when)
        return out


@dataclass(frozen=True)
class Round:
    """A validated round."""

    name: str
    goal: str
    start_from: str
    scientific: dict[str, tuple[Any, ...]]
    nuisance: dict[str, tuple[ParamSpec, ...]]
    fixed: dict[str, Any]
    budget: BudgetConfig
    promotion: PromotionConfig

    @property
    def trials_per_study(self) -> int:
        """Each study's budget (``parse_round`` set it when the round file did not)."""
        assert self.budget.trials_per_study is not None
        return self.budget.trials_per_study

    def points(self) -> list[dict[str, Any]]:
        """The scientific points: the cartesian product of the value lists (one if none)."""
        return scientific_points(self.scientific)

    def study_name(self, point: Mapping[str, Any]) -> str:
        if not point:
            return self.name
        return f"{self.name}/" + ",".join(f"{p}={_fmt(v)}" for p, v in point.items())

    def search_space(self) -> dict[str, BaseDistribution]:
        """Each nuisance path with its first alternative's distribution (one QMC dimension)."""
        return {path: alts[0].distribution() for path, alts in self.nuisance.items()}

    def sampler(self) -> Any:
        b = self.budget
        return make_sampler(
            b.sampler, seed=b.seed, search_space=self.search_space(), grid=b.grid or None
        )

    def pruner(self, start: Experiment, point: Mapping[str, Any]) -> Any:
        """The study's pruner; its rungs follow the study's training length: the start's,
        with the round's fixed and scientific values, or the top of a tuned length's range."""
        return make_pruner(self.budget, self.length(start, point))

    def length(self, start: Experiment, point: Mapping[str, Any]) -> int | None:
        """The longest training a trial of the study at ``point`` can get."""
        tuned = [
            v
            for spec in self.nuisance.get(start.length_key or "", ())
            for v in (spec.choices or (spec.high,))
            if is_real(v)
        ]
        if tuned:
            return int(max(tuned))
        return start.with_values({**self.fixed, **point}).length()

    def suggest(self, trial: Any, start: Experiment, point: Mapping[str, Any]) -> dict[str, Any]:
        """Sample the nuisance values active for this trial, in declaration order."""

        def draw(path: str, dist: BaseDistribution) -> Any:
            if isinstance(dist, CategoricalDistribution):
                return trial.suggest_categorical(path, dist.choices)
            if isinstance(dist, IntDistribution):
                return trial.suggest_int(path, dist.low, dist.high, step=dist.step, log=dist.log)
            assert isinstance(dist, FloatDistribution)
            return trial.suggest_float(path, dist.low, dist.high, step=dist.step, log=dist.log)

        return self.active_values(start.with_values({**self.fixed, **point}), draw)

    def active_values(
        self, base: Experiment, value_of: Callable[[str, BaseDistribution], Any]
    ) -> dict[str, Any]:
        """Each nuisance param active given ``base`` and the values taken so far (in
        declaration order, so a ``when`` may name an earlier one), with the value
        ``value_of(path, its distribution)`` gives it: a sampler's draw, or a stored
        trial's value (``work/carry.py``)."""
        taken: dict[str, Any] = {}

        def lookup(path: str) -> Any:
            return taken[path] if path in taken else base.get(path)

        for path, alternatives in self.nuisance.items():
            spec = next((s for s in alternatives if s.active(lookup)), None)
            if spec is not None:
                taken[path] = value_of(path, spec.distribution())
        return taken

    def trial_config(
        self, start: Experiment, point: Mapping[str, Any], sampled: Mapping[str, Any]
    ) -> Experiment:
        """Start config, then fixed, then the scientific point, then the sampled values."""
        cfg = start.with_values({**self.fixed, **point, **sampled})
        cfg.validate()
        return cfg

    def roles(self) -> dict[str, Any]:
        """Plain-data description (study user attributes, round.yaml, reports)."""
        return {
            "scientific": {p: list(v) for p, v in self.scientific.items()},
            "nuisance": {p: [s.describe() for s in alts] for p, alts in self.nuisance.items()},
            "fixed": dict(self.fixed),
        }


def scientific_points(scientific: Mapping[str, tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The cartesian product of the scientific value lists, in declaration order."""
    names = list(scientific)
    combos = itertools.product(*scientific.values())
    return [dict(zip(names, combo, strict=True)) for combo in combos]


def _fmt(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
