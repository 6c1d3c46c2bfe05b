"""How a trial's trainer is started: a function called in the worker, a Hydra application
(called in the worker, or in a process of its own), or any command as a child process.

``Launch`` is the checked ``trainer`` section; ``identity`` is the one string that names
the trainer in the store's provenance (a function's identity is its dotted path, as in
stores of earlier versions). The functions below turn a trial's config into what a child
process is given: Hydra overrides (``optim.lr=0.01``) or argparse flags (``--lr 0.01``).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.config.sections import TrainerConfig
from orchestrator.exceptions import ConfigError

KINDS = ("function", "hydra_app", "command")
ARG_STYLES = ("hydra", "argparse")
NOT_PASSED = ("objective",)  # the orchestrator's own key in the tree: never an argument
# The curves the checks read: per step (train_loss, lr, grad_norm), per evaluation (the rest).
CURVE_ROLES = ("train_loss", "lr", "grad_norm", "val_loss", "val_error")


@dataclass(frozen=True)
class Launch:
    """The ``trainer`` section, checked (see ``TrainerConfig`` for each key)."""

    kind: str = "function"
    target: str = "orchestrator.train.fit"
    command: tuple[str, ...] = ()
    args: str = "hydra"
    subprocess: bool = False
    config_dir: str | None = None  # hydra_app: the app's config dir, absolute (or pkg://)
    config_name: str | None = None
    overrides: tuple[str, ...] = ()
    timeout: float | None = None
    grace: float = 10.0
    curves: tuple[tuple[str, str], ...] = ()  # (role, your metric's name)
    version_base: str | None = None  # hydra_app: its @hydra.main's (found with its config)

    def identity(self) -> str:
        """The trainer as provenance records it; a function keeps its bare dotted path."""
        if self.kind == "command":
            return "command " + shlex.join(self.command)
        if self.kind == "hydra_app":
            return "hydra_app " + self.target
        return self.target


def selection_hint(identity: str) -> str:
    """The overrides that select the trainer ``identity`` names, for error messages."""
    kind, _, rest = identity.partition(" ")
    if kind == "command" and rest:
        return f"trainer.kind=command trainer.command={shlex.quote(rest)}"
    if kind == "hydra_app" and rest:
        return f"trainer.kind=hydra_app trainer._target_={rest}"
    return f"trainer._target_={identity}"


def launch_from(section: TrainerConfig, target: str | None = None) -> Launch:
    """The ``trainer`` section checked, ``target`` (a round's ``trainer``) winning; one
    ConfigError naming the key."""
    if section.kind not in KINDS:
        raise ConfigError(
            "trainer.kind", f"must be one of {', '.join(KINDS)}; got {section.kind!r}"
        )
    if section.args not in ARG_STYLES:
        raise ConfigError(
            "trainer.args", f"must be one of {', '.join(ARG_STYLES)}; got {section.args!r}"
        )
    if section.timeout is not None and not section.timeout > 0:
        raise ConfigError("trainer.timeout", f"must be seconds > 0 or null; got {section.timeout}")
    if not (section.grace >= 0 and math.isfinite(section.grace)):
        raise ConfigError("trainer.grace", f"must be seconds >= 0; got {section.grace}")
    command: tuple[str, ...] = ()
    if section.kind == "command":
        try:
            command = tuple(shlex.split(section.command or ""))
        except ValueError as err:
            raise ConfigError(
                "trainer.command", f"cannot split {section.command!r}: {err}"
            ) from None
        if not command:
            raise ConfigError(
                "trainer.command",
                "trainer.kind=command needs the command line, e.g. "
                "trainer.command='python train.py'",
            )
    elif section.command:
        raise ConfigError(
            "trainer.command",
            f"is for trainer.kind=command (this trainer is a {section.kind}); drop it, or set "
            "trainer.kind=command",
        )
    for role, name in section.curves.items():
        if role not in CURVE_ROLES:
            raise ConfigError(
                f"trainer.curves.{role}",
                f"is not a curve the checks read; name one of {', '.join(CURVE_ROLES)}",
            )
        if not isinstance(name, str) or not name:
            raise ConfigError(f"trainer.curves.{role}", f"must name a metric; got {name!r}")
    in_child = section.kind == "command" or (section.kind == "hydra_app" and section.subprocess)
    if section.timeout is not None and not in_child:
        raise ConfigError(
            "trainer.timeout",
            "applies to a trainer in a child process (trainer.kind=command, or a hydra_app with"
            " trainer.subprocess=true): a call in the worker cannot be stopped midway",
        )
    if section.kind != "hydra_app":
        for key in ("config_path", "config_name", "overrides", "subprocess"):
            if getattr(section, key):
                raise ConfigError(f"trainer.{key}", "is for trainer.kind=hydra_app only")
    return Launch(
        kind=section.kind,
        target=target or section._target_,
        command=command,
        args=section.args,
        subprocess=section.subprocess,
        config_dir=section.config_path,
        config_name=section.config_name,
        overrides=tuple(str(o) for o in section.overrides),
        timeout=section.timeout,
        grace=section.grace,
        curves=tuple(sorted(section.curves.items())),
    )


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


def child_arguments(launch: Launch, tree: Mapping[str, Any]) -> list[str]:
    """A command trainer's arguments for one trial: every key of the tree, in its style."""
    values = dict(leaf_values(tree))
    if launch.args == "argparse":
        return argparse_args(values)
    return [hydra_override(path, value) for path, value in values.items()]
