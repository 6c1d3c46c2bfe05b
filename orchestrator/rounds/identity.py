"""A round's identity: what its studies' trials mean, so what a resumed round may not change.

A round's trials are comparable only while the round stays the same: the same scientific
values, the same search space (each nuisance param's range or choices, log, step, its
condition; presets expanded into it), the same sampler and seed, the same fixed values,
the same trainer and objective, and the same start. Resuming a round (running the same
name again) with any of these changed would mix two rounds in one study, orphan studies
or re-read them under another meaning; it is refused with the difference shown. What may
change: the budget's size (``trials_per_study`` may grow), ``workers``, ``max_failures``,
``racing``, the pruner's settings and the promotion section, none of which changes what a
trial is.

The identity is plain data (stored as a study attribute and in ``round.yaml``). Stores of
earlier versions recorded no identity: ``legacy_identity`` rebuilds what they did record
(roles, sampler, seed, metric, start_from, trainer), and only the keys a stored identity
holds are compared, so an earlier store is resumed and its identity completed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from orchestrator.config.experiment import Experiment
from orchestrator.exceptions import ConfigError
from orchestrator.rounds.sampling import ADAPTIVE
from orchestrator.rounds.space import Round
from orchestrator.store.record import StudyAttr

# identity key -> the config key a person edits to change it (for the difference's lines)
KEYS = {
    "scientific": "round.scientific",
    "nuisance": "round.nuisance",
    "fixed": "round.fixed",
    "sampler": "round.budget.sampler",
    "seed": "round.budget.seed",
    "grid": "round.budget.grid",
    "start_from": "round.start_from",
    "trainer": "trainer",
    "metric": "objective.metric",
    "direction": "objective.direction",
}
_BY_PARAM = ("scientific", "nuisance", "fixed", "grid")  # dicts compared param by param


def round_identity(rnd: Round, start: Experiment) -> dict[str, Any]:
    """The round's identity as plain (JSON) data."""
    return _plain(
        {
            **rnd.roles(),
            "sampler": rnd.budget.sampler,
            "seed": rnd.budget.seed,
            "grid": dict(rnd.budget.grid),
            "start_from": rnd.start_from,
            "trainer": start.trainer,
            "metric": start.metric,
            "direction": start.direction,
        }
    )


def legacy_identity(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a study of an earlier version recorded of its round's identity (None: nothing)."""
    roles = attrs.get(StudyAttr.ROLES)
    if not isinstance(roles, Mapping):
        return None
    out: dict[str, Any] = {k: roles[k] for k in ("scientific", "nuisance", "fixed") if k in roles}
    for key, attr in (
        ("sampler", StudyAttr.SAMPLER),
        ("seed", StudyAttr.SEED),
        ("start_from", StudyAttr.START_FROM),
        ("trainer", StudyAttr.TRAINER),
        ("metric", StudyAttr.METRIC),
    ):
        if attr in attrs:
            out[key] = attrs[attr]
    return _plain(out)


def differences(stored: Mapping[str, Any], given: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(config key, stored, given) for each part that differs; parts ``stored`` lacks (an
    earlier version did not record them) are not compared."""
    out: list[tuple[str, Any, Any]] = []
    for key, label in KEYS.items():
        if key not in stored:
            continue
        old, new = stored[key], given.get(key)
        if key in _BY_PARAM and isinstance(old, Mapping) and isinstance(new, Mapping):
            for path in [*old, *(p for p in new if p not in old)]:
                if old.get(path) != new.get(path):
                    out.append((f"{label}.{path}", old.get(path), new.get(path)))
        elif old != new:
            out.append((label, old, new))
    return out


def check_same_round(
    name: str, stored: Mapping[str, Any] | None, given: Mapping[str, Any], record: str
) -> None:
    """One ConfigError when round ``name`` was started as another round (``record``: where
    the round as started is kept, for the person to restore it from)."""
    if stored is None:
        return
    diff = differences(stored, given)
    if not diff:
        return
    shown = "; ".join(f"{key}: {_show(old)} -> {_show(new)}" for key, old, new in diff)
    carry = (
        "with budget.sampler tpe or gp its studies start from the earlier round's trials "
        "that fit its space and fixed values"
        if given.get("sampler") in ADAPTIVE
        else "a new round starts its own studies (with budget.sampler tpe or gp it would "
        "start from the earlier round's trials that fit)"
    )
    raise ConfigError(
        diff[0][0],
        f"round {name} was started as another round ({shown}); its studies keep what they "
        f"were started with. Either restore the round as it was (kept in {record}), or give "
        f"this one a new name (round.name={name}_2): {carry}",
    )


def _show(value: Any) -> str:
    """A value as the round file writes it (YAML's flow style): ``[relu, tanh]``."""
    if value is None:
        return "(none)"
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6)
    return text.strip().removesuffix("...").strip()


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    """JSON's view of ``value`` (tuples as lists), as a study attribute stores it."""
    plain: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return plain
