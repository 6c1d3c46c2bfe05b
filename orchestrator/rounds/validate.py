"""A round's roles, checked: scientific grid, nuisance search space, fixed values, budget.

``parse_round`` turns the round config as Hydra composed it into a ``Round``
(``space.py``) or raises one ``ConfigError`` naming the offending key, before any store
is touched.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from orchestrator.config.experiment import Experiment
from orchestrator.config.params import ParamSchema
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.exceptions import ConfigError
from orchestrator.rounds.check_needs import (
    DEFAULT_TRIALS,
    MIN_TRIALS_PER_PARAM,
    trials_for_checks,
)
from orchestrator.rounds.promotion_config import parse_promotion
from orchestrator.rounds.pruning import check_pruner
from orchestrator.rounds.sampling import SAMPLERS, adam_budget_nuisance
from orchestrator.rounds.space import ParamSpec, Round, scientific_points
from orchestrator.train.numbers import is_real, is_whole

START_FROM = ("incumbent", "base")
SPEC_KEYS = ("low", "high", "log", "step", "choices", "when")
PRESETS = ("adam_budget",)


def parse_round(
    raw: RoundConfig, start: Experiment, *, min_trials_per_param: int = MIN_TRIALS_PER_PARAM
) -> Round:
    """Validate ``raw`` against the experiment's paths and ``start``; one ConfigError if not.

    An unset ``budget.trials_per_study`` becomes what the boundary and density checks need
    over the round's tuned params (``rounds/check_needs.py``; ``min_trials_per_param`` is
    the analysis setting), so the default round can be checked."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", raw.name or ""):
        raise ConfigError(
            "round.name", f"must be a non-empty name of letters, digits, _ . -; got {raw.name!r}"
        )
    if raw.start_from not in START_FROM:
        raise ConfigError(
            "round.start_from", f"must be one of {', '.join(START_FROM)}; got {raw.start_from!r}"
        )
    if not isinstance(raw.promote, bool):
        raise ConfigError("round.promote", f"must be true or false; got {raw.promote!r}")
    scientific = _parse_scientific(raw.scientific, start)
    fixed = _parse_fixed(raw.fixed, scientific, start)
    nuisance = _parse_nuisance(raw, scientific, fixed, start)
    budget = _parse_budget(raw.budget, nuisance, min_trials_per_param)
    _check_grid_types(budget, start.schema)
    promotion = parse_promotion(raw.promotion)
    if promotion.candidate is not None and dict(promotion.candidate) not in scientific_points(
        scientific
    ):
        raise ConfigError(
            "round.promotion.candidate",
            f"{dict(promotion.candidate)} is not a scientific point of this round; "
            f"points: {scientific_points(scientific)}",
        )
    parsed = Round(
        raw.name, raw.goal, raw.start_from, scientific, nuisance, fixed, budget, promotion
    )
    _check_conditions(parsed, start)
    parsed.sampler()  # a sampler that cannot be built fails now, not in a worker
    return parsed


def _validate_with(key: str, start: Experiment, values: dict[str, Any]) -> None:
    try:
        start.with_values(values).validate()
    except ConfigError as err:
        raise ConfigError(key, f"rejected by the schema: {err}") from None


def _parse_scientific(raw: Mapping[str, Any], start: Experiment) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    for path, values in raw.items():
        key = f"round.scientific.{path}"
        start.schema.check_path(key, path)
        if not isinstance(values, list | tuple) or not values:
            raise ConfigError(key, f"needs a non-empty list of values; got {values!r}")
        checked = []
        for i, value in enumerate(values):
            value = start.schema.check_type(f"{key}[{i}]", path, value)
            _validate_with(f"{key}[{i}]", start, {path: value})
            checked.append(value)
        if len(set(map(repr, checked))) != len(checked):
            raise ConfigError(key, f"lists a value twice: {values!r}")
        out[path] = tuple(checked)
    return out


def _parse_fixed(
    raw: Mapping[str, Any], scientific: Mapping[str, Any], start: Experiment
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in raw.items():
        key = f"round.fixed.{path}"
        start.schema.check_path(key, path)
        if path in scientific:
            raise ConfigError(key, f"{path} is already scientific; a parameter has one role")
        out[path] = start.schema.check_type(key, path, value)
    if out:
        _validate_with("round.fixed", start, out)
    return out


def _nuisance_entries(raw: RoundConfig) -> list[tuple[str, str, Any]]:
    """(key, path, spec) for each alternative, explicit ones first, then expanded presets."""
    entries: list[tuple[str, str, Any]] = []
    for path, spec in raw.nuisance.items():
        specs = spec if isinstance(spec, list | tuple) else [spec]
        for i, one in enumerate(specs):
            key = f"round.nuisance.{path}" + (f"[{i}]" if len(specs) > 1 else "")
            entries.append((key, path, one))
    for name, options in raw.presets.items():
        if name not in PRESETS:
            raise ConfigError(f"round.presets.{name}", f"unknown preset; valid: {PRESETS}")
        options = dict(options or {})
        unknown = set(options) - {"when"}
        if unknown:
            raise ConfigError(f"round.presets.{name}", f"takes only 'when'; got {sorted(unknown)}")
        trials = raw.budget.trials_per_study or DEFAULT_TRIALS  # unset: the smallest default
        for path, spec in adam_budget_nuisance(trials).items():
            entries.append((f"round.presets.{name}", path, {**spec, **options}))
    return entries


def _parse_nuisance(
    raw: RoundConfig, scientific: Mapping[str, Any], fixed: Mapping[str, Any], start: Experiment
) -> dict[str, tuple[ParamSpec, ...]]:
    out: dict[str, list[ParamSpec]] = {}
    for key, path, spec in _nuisance_entries(raw):
        start.schema.check_path(key, path)
        for role, taken in (("scientific", scientific), ("fixed", fixed)):
            if path in taken:
                raise ConfigError(key, f"{path} is already {role}; a parameter has one role")
        out.setdefault(path, []).append(_parse_spec(key, path, spec, start.schema))
    for path, alternatives in out.items():
        if len(alternatives) > 1 and not all(s.when for s in alternatives):
            raise ConfigError(
                f"round.nuisance.{path}",
                "has several ranges: each needs a 'when' condition saying where it applies",
            )
    return {path: tuple(alts) for path, alts in out.items()}


def _parse_spec(key: str, path: str, spec: Any, schema: ParamSchema) -> ParamSpec:
    if not isinstance(spec, Mapping):
        raise ConfigError(
            key, f"must be a mapping with low/high (and log, step) or choices; got {spec!r}"
        )
    unknown = set(spec) - set(SPEC_KEYS)
    if unknown:
        raise ConfigError(key, f"unknown keys {sorted(unknown)}; valid: {', '.join(SPEC_KEYS)}")
    when = spec.get("when") or {}
    if not isinstance(when, Mapping):
        raise ConfigError(f"{key}.when", f"must map parameter paths to values; got {when!r}")
    when_items = tuple((str(p), v) for p, v in when.items())
    if "choices" in spec:
        choices = spec["choices"]
        if set(spec) - {"choices", "when"}:
            raise ConfigError(key, "give either choices or low/high, not both")
        if not isinstance(choices, list | tuple) or not choices:
            raise ConfigError(f"{key}.choices", f"needs a non-empty list; got {choices!r}")
        checked = tuple(
            schema.check_type(f"{key}.choices[{i}]", path, c) for i, c in enumerate(choices)
        )
        return ParamSpec(path, choices=checked, when=when_items)
    kind = schema.type_of(path)
    if not kind.numeric():
        raise ConfigError(key, f"{path} takes {kind.name()}: give choices, not a range")
    if "low" not in spec or "high" not in spec:
        raise ConfigError(key, "needs both low and high (or choices)")
    low = schema.check_type(f"{key}.low", path, spec["low"])
    high = schema.check_type(f"{key}.high", path, spec["high"])
    for bound in ("low", "high"):
        if not is_real(spec[bound]):
            raise ConfigError(f"{key}.{bound}", f"must be a number; got {spec[bound]!r}")
    log, step = bool(spec.get("log", False)), spec.get("step")
    # an untyped (null-default) parameter is an int range when its bounds and step are ints
    ints = all(isinstance(v, int) for v in (low, high, step or 1))
    base = kind.base if kind.base in (int, float) else (int if ints else float)
    if not low < high:
        raise ConfigError(key, f"low < high must hold; got low={low}, high={high}")
    if log and low <= 0:
        raise ConfigError(f"{key}.low", f"a log range needs low > 0; got {low}")
    if step is not None and (log or not isinstance(step, int | float) or step <= 0):
        raise ConfigError(f"{key}.step", f"must be a number > 0 on a linear range; got {step!r}")
    if base is int and step is not None and not isinstance(step, int):
        raise ConfigError(f"{key}.step", f"{path} is an int: step must be an int; got {step!r}")
    return ParamSpec(path, low, high, log, step, None, when_items, integer=base is int)


def _parse_budget(
    b: BudgetConfig, nuisance: Mapping[str, tuple[ParamSpec, ...]], per_param: int
) -> BudgetConfig:
    if b.trials_per_study is None:
        b = dataclasses.replace(b, trials_per_study=checks_budget(nuisance, b, per_param))
    if not isinstance(b.trials_per_study, int) or b.trials_per_study < 1:
        raise ConfigError(
            "round.budget.trials_per_study", f"must be an integer >= 1; got {b.trials_per_study!r}"
        )
    if b.sampler not in SAMPLERS:
        raise ConfigError(
            "round.budget.sampler", f"must be one of {', '.join(SAMPLERS)}; got {b.sampler!r}"
        )
    if not is_whole(b.workers) or b.workers < 1:
        raise ConfigError(
            "round.budget.workers",
            f"must be an integer >= 1 (worker processes on this machine); got {b.workers!r}",
        )
    check_pruner(b)
    if not isinstance(b.racing, bool):
        raise ConfigError("round.budget.racing", f"must be true or false; got {b.racing!r}")
    if b.max_failures is not None and b.max_failures < 1:
        raise ConfigError("round.budget.max_failures", f"must be >= 1; got {b.max_failures}")
    for path, values in b.grid.items():
        if path not in nuisance:
            raise ConfigError(
                f"round.budget.grid.{path}",
                f"{path} is not a nuisance parameter"
                f" of this round; nuisance: {', '.join(nuisance) or 'none'}",
            )
        if not isinstance(values, list | tuple) or not values:
            raise ConfigError(
                f"round.budget.grid.{path}", f"needs a non-empty list; got {values!r}"
            )
    return b


def _check_grid_types(b: BudgetConfig, schema: ParamSchema) -> None:
    """Each grid value has its parameter's type (an int key refuses 2.5), as a trial needs."""
    for path, values in b.grid.items():
        for i, value in enumerate(values):
            schema.check_type(f"round.budget.grid.{path}[{i}]", path, value)


def _possible_values(rnd: Round, start: Experiment, path: str) -> list[Any] | None:
    """Values ``path`` can take in this round; None for a continuous range (any in it)."""
    if path in rnd.scientific:
        return list(rnd.scientific[path])
    if path in rnd.fixed:
        return [rnd.fixed[path]]
    if path in rnd.nuisance:
        values: list[Any] = []
        for spec in rnd.nuisance[path]:
            if spec.choices is None:
                return None
            values.extend(spec.choices)
        return values
    return [start.get(path)]


def _check_conditions(rnd: Round, start: Experiment) -> None:
    order = list(rnd.nuisance)
    for path, alternatives in rnd.nuisance.items():
        for spec in alternatives:
            for cond_path, value in spec.when:
                key = f"round.nuisance.{path}.when.{cond_path}"
                start.schema.check_path(key, cond_path)
                if cond_path == path:
                    raise ConfigError(key, "a parameter cannot be conditional on itself")
                if cond_path in rnd.nuisance and order.index(cond_path) > order.index(path):
                    raise ConfigError(
                        key,
                        f"{cond_path} is sampled after {path}: declare it "
                        "first so the condition can be decided",
                    )
                possible = _possible_values(rnd, start, cond_path)
                if possible is not None and value not in possible:
                    raise ConfigError(
                        key,
                        f"{cond_path} can never be {value!r} in this round; it takes {possible!r}",
                    )
                if possible is None and not isinstance(value, int | float):
                    raise ConfigError(key, f"{cond_path} is a numeric range; got {value!r}")


def checks_budget(
    nuisance: Mapping[str, tuple[ParamSpec, ...]], budget: BudgetConfig, per_param: int
) -> int:
    """The default trials per study: what the checks need (a grid: the smallest default)."""
    if budget.sampler == "grid":
        return DEFAULT_TRIALS
    return trials_for_checks(len(nuisance), range_params(nuisance), per_param)


def range_params(nuisance: Mapping[str, tuple[ParamSpec, ...]]) -> int:
    """The nuisance params with a numeric range (the boundary check's model's columns)."""
    return sum(any(s.choices is None for s in alts) for alts in nuisance.values())
