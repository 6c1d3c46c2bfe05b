"""An app's ``hydra.sweeper`` section (hydra-optuna-sweeper's) read as a round's search space.

The sweep strings are read by Hydra's own override grammar (the parser the sweeper uses),
and each becomes what hydra-optuna-sweeper would sample, written as a round's nuisance
spec: ``interval(a, b)`` a range (an int range when both ends are ints, as ``int(...)``
makes them), ``tag(log, ...)`` on a log scale, ``range(a, b, step=s)`` a range on a grid
with ``b`` included (the plugin's IntDistribution/FloatDistribution), ``choice(...)`` and
``a,b,c`` the choices, a plain value a fixed one. The sweeper's sampler settings are not
carried: a round samples its nuisance values per scientific value itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from orchestrator.exceptions import ConfigError


@dataclass
class SweepSpace:
    """What the sweeper section says, in a round's terms."""

    nuisance: dict[str, dict[str, Any]] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    direction: str | None = None  # the sweeper's (minimize | maximize), when it names one
    n_trials: int | None = None
    seed: int | None = None  # the sampler's seed, kept as the round's budget.seed
    study_name: str | None = None


def sweep_space(composed: DictConfig) -> SweepSpace:
    """The search space of the app's ``hydra.sweeper`` (``composed`` has its ``hydra``
    node); one ConfigError when it has no ``params`` or a string does not parse."""
    sweeper = OmegaConf.to_container(composed.hydra.get("sweeper") or {}, resolve=False)
    assert isinstance(sweeper, dict)
    params = sweeper.get("params") or {}
    if not params:
        raise ConfigError(
            "hydra.sweeper.params",
            "the app's config has no sweeper search space (hydra.sweeper.params: "
            "{key: 'interval(0.001, 0.1)', ...}) to draft a round from",
        )
    space = SweepSpace(
        direction=_direction(sweeper.get("direction")),
        n_trials=_int_or_none(sweeper.get("n_trials")),
        seed=_int_or_none((sweeper.get("sampler") or {}).get("seed")),
        study_name=sweeper.get("study_name"),
    )
    parser = OverridesParser.create()
    for key, text in params.items():
        spec = _spec(parser, str(key), str(text))
        if isinstance(spec, Mapping):
            space.nuisance[str(key)] = dict(spec)
        else:
            space.fixed[str(key)] = spec
    return space


def _spec(parser: OverridesParser, key: str, text: str) -> Any:
    """One sweep string as a nuisance spec (a mapping) or a fixed value."""
    try:
        override = parser.parse_override(f"{key}={text}")
    except HydraException as err:
        raise ConfigError(
            f"hydra.sweeper.params.{key}", f"{text!r} does not parse: {err}"
        ) from None
    value = override.value()
    if isinstance(value, ChoiceSweep):
        return {"choices": list(value.list)}
    if isinstance(value, RangeSweep):
        if value.shuffle:  # the plugin samples a shuffled range as its values
            return {"choices": [v for v in override.sweep_iterator()]}
        return {"low": value.start, "high": value.stop, "step": value.step}
    if isinstance(value, IntervalSweep):
        spec: dict[str, Any] = {"low": value.start, "high": value.end}
        return {**spec, "log": True} if "log" in value.tags else spec
    if override.is_sweep_override():
        raise ConfigError(
            f"hydra.sweeper.params.{key}",
            f"{text!r} is a sweep the Optuna sweeper does not take; use interval(), "
            "range(), choice() or a comma list",
        )
    return value


def _direction(value: Any) -> str | None:
    """The sweeper's direction (a list for multi-objective runs: the first is the one)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value).lower()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
