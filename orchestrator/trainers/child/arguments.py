"""A trial's values as a child process is given them: Hydra overrides (``optim.lr=0.01``)
or argparse flags (``--lr 0.01``); for a Hydra app, only the keys that differ from its own
composed defaults, so its interpolations keep following a tuned value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

NOT_PASSED = ("objective",)  # the orchestrator's own key in the tree: never an argument


def leaf_values(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every leaf (a list is one leaf), the orchestrator's keys left
    out."""
    for key, value in tree.items():
        if not prefix and key in NOT_PASSED:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from leaf_values(value, f"{path}.")
        else:
            yield path, value


def changed_values(tree: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The leaves of ``tree`` that differ from ``defaults`` (a Hydra app's own composed
    config): only these are overridden, so the app's interpolations keep working."""
    base = dict(leaf_values(defaults))
    return {path: value for path, value in leaf_values(tree) if base.get(path, _ABSENT) != value}


_ABSENT = object()


def hydra_override(path: str, value: Any) -> str:
    """``path=value`` in Hydra's override grammar (strings quoted, so ``'1'`` stays text)."""
    return f"{path}={_hydra_value(value)}"


def _hydra_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{_hydra_value(v)}" for k, v in value.items()) + "}"
    # Hydra unescapes a backslash only before a quote or at the string's end: double those
    text = re.sub(r"(\\+)(?='|\Z)", lambda m: m.group(1) * 2, str(value))
    return "'" + text.replace("'", "\\'") + "'"


def argparse_args(values: Mapping[str, Any]) -> list[str]:
    """``--key value`` per leaf; a list is ``--key a b`` (nargs), True is a bare ``--key``
    (store_true), False and null are left out."""
    out: list[str] = []
    for path, value in values.items():
        if value is None or value is False:
            continue
        out.append(f"--{path}")
        if value is True:
            continue
        out.extend(str(v) for v in value) if isinstance(value, list) else out.append(str(value))
    return out


def child_arguments(style: str, tree: Mapping[str, Any]) -> list[str]:
    """A command trainer's arguments for one trial: every key of the tree, in its style."""
    values = dict(leaf_values(tree))
    if style == "argparse":
        return argparse_args(values)
    return [hydra_override(path, value) for path, value in values.items()]
