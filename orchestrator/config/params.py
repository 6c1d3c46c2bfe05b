"""Dotted parameter paths (``model.depth``, ``optim.lr``): which exist, what type each takes.

Rounds name hyperparameters by path. A ``ParamSchema`` is the one place that knows the
paths of an experiment and their types, so a typo or a wrong type is caught with the key
named, with a "did you mean", before any study is created. The built-in experiment's types
come from its dataclasses (``train/config.py``); a user's own config's types come from
their structured config or, for plain YAML, from the default value (``config/schema.py``).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.exceptions import ConfigError
from orchestrator.train.config import SECTIONS
from orchestrator.train.numbers import is_real, is_whole


@dataclass(frozen=True)
class ParamType:
    """A leaf's type: ``base`` None means any (a YAML default of ``null``)."""

    base: type | None
    optional: bool = False
    inferred: bool = False  # from a YAML default, not declared (``null``: any value)

    def name(self) -> str:
        """``an int``, ``a float or null``, ``any value``: for messages."""
        if self.base is None:
            return "any value"
        base = self.base.__name__
        article = "an" if base[0] in "aeiou" else "a"
        return f"{article} {base}" + (" or null" if self.optional else "")

    def numeric(self) -> bool:
        return self.base in (int, float, None)


def _builtin_types() -> dict[str, ParamType]:
    """path -> type for every leaf of the built-in experiment schema."""
    out: dict[str, ParamType] = {}
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            args = typing.get_args(hint)
            optional = isinstance(hint, types.UnionType) and type(None) in args
            base = next(a for a in args if a is not type(None)) if optional else hint
            out[f"{section}.{f.name}"] = ParamType(typing.get_origin(base) or base, optional)
    return out


PARAM_TYPES = _builtin_types()  # the built-in experiment's paths


@dataclass(frozen=True)
class ParamSchema:
    """The paths an experiment has and their types; ``builtin``: the built-in experiment."""

    types: Mapping[str, ParamType]
    builtin: bool

    def check_path(self, key: str, path: str) -> None:
        """Raise a ConfigError at ``key`` unless ``path`` names a parameter of the experiment."""
        if path in self.types:
            return
        close = difflib.get_close_matches(path, list(self.types), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        if self.builtin:
            where = (
                f"paths are <section>.<key> with section in {', '.join(SECTIONS)}; to tune "
                "keys of your own, compose your own config (docs/own-code.md)"
            )
        else:
            where = "it is not a key of your config (add it there with a default value)"
        raise ConfigError(key, f"unknown parameter path {path!r}; {hint}{where}")

    def type_of(self, path: str) -> ParamType:
        return self.types[path]

    def check_type(self, key: str, path: str, value: Any) -> Any:
        """``value`` as the type ``path`` takes (int -> float where a float is expected)."""
        t = self.types[path]
        if value is None and (t.optional or t.base is None):
            return None
        base = t.base
        if base is None:
            if isinstance(value, str | bool | int | float | list | tuple):
                return list(value) if isinstance(value, list | tuple) else value
            raise ConfigError(
                key, f"{path} takes a plain value (number, text, list); got {value!r}"
            )
        ok = (
            (base is bool and isinstance(value, bool))
            or (base is int and is_whole(value))
            or (base is float and is_real(value))
            or (base is str and isinstance(value, str))
            or (base is list and isinstance(value, list | tuple))
        )
        if not ok:
            hint = ""
            if base is int and t.inferred and isinstance(value, float):
                hint = (
                    " (its default in your config is an int; if it takes real numbers, "
                    "write its default as one, e.g. 2.0)"
                )
            raise ConfigError(key, f"{path} takes {t.name()}; got {value!r}{hint}")
        return float(value) if base is float else (list(value) if base is list else value)


BUILTIN_SCHEMA = ParamSchema(PARAM_TYPES, builtin=True)
