"""Dotted parameter paths into the experiment (``model.depth``): their types, reading, writing.

Rounds name hyperparameters by path; this module is the one place that knows which paths
exist and what type each takes, so a typo or a wrong type is caught with the key named
before any study is created.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from typing import Any

from orchestrator.exceptions import ConfigError
from orchestrator.train.config import SECTIONS, ExperimentConfig


def _field_types() -> dict[str, tuple[type, bool]]:
    """path -> (base type, None allowed) for every leaf of the experiment schema."""
    out: dict[str, tuple[type, bool]] = {}
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            args = typing.get_args(hint)
            optional = isinstance(hint, types.UnionType) and type(None) in args
            base = next(a for a in args if a is not type(None)) if optional else hint
            out[f"{section}.{f.name}"] = (typing.get_origin(base) or base, optional)
    return out


PARAM_TYPES = _field_types()


def check_path(key: str, path: str) -> None:
    """Raise a ConfigError at ``key`` unless ``path`` names an experiment parameter."""
    if path in PARAM_TYPES:
        return
    close = difflib.get_close_matches(path, PARAM_TYPES, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    sections = ", ".join(SECTIONS)
    raise ConfigError(
        key,
        f"unknown parameter path {path!r}; {hint}paths are <section>.<key> with section in "
        f"{sections} (README: config reference)",
    )


def type_name(path: str) -> str:
    base, optional = PARAM_TYPES[path]
    return base.__name__ + (" or null" if optional else "")


def check_type(key: str, path: str, value: Any) -> Any:
    """Return ``value`` as the type ``path`` takes (int -> float where a float is expected)."""
    base, optional = PARAM_TYPES[path]
    if value is None and optional:
        return None
    ok = (
        (base is bool and isinstance(value, bool))
        or (base is int and isinstance(value, int) and not isinstance(value, bool))
        or (base is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (base is str and isinstance(value, str))
        or (base is list and isinstance(value, list | tuple))
    )
    if not ok:
        raise ConfigError(key, f"{path} takes a {type_name(path)}; got {value!r}")
    return float(value) if base is float else (list(value) if base is list else value)


def get_value(cfg: ExperimentConfig, path: str) -> Any:
    section, name = path.split(".", 1)
    return getattr(getattr(cfg, section), name)


def with_values(cfg: ExperimentConfig, values: dict[str, Any]) -> ExperimentConfig:
    """A copy of ``cfg`` with each path set to its value (values must be type-checked)."""
    out = copy.deepcopy(cfg)
    for path, value in values.items():
        section, name = path.split(".", 1)
        setattr(getattr(out, section), name, value)
    return out
