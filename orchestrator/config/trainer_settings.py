"""The ``trainer`` section checked into the settings of one kind of trainer: a function
called in the worker, a Hydra application, or any command run as a child process.

Each kind keeps only its own keys (a union, not one flat record whose fields mostly belong
to another kind), so a setting that means nothing to the chosen kind is refused by name
before anything runs. ``identity()`` is the one string that names the trainer in the
store's provenance (a function's identity is its bare dotted path, as in stores of earlier
versions); ``settings_of_identity`` reads it back, for analysing a round as it was trained.
``orchestrator/trainers/`` builds the trainer itself from these settings.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from typing import ClassVar

from orchestrator.config.metric_settings import MetricSettings, metric_settings
from orchestrator.config.sections import MetricsConfig, TrainerConfig
from orchestrator.exceptions import ConfigError

BUILTIN_TRAINER = "orchestrator.train.fit"
KINDS = ("function", "hydra_app", "command")
ARG_STYLES = ("hydra", "argparse")
# The curves the checks read: per step (train_loss, lr, grad_norm), per evaluation (the rest).
CURVE_ROLES = ("train_loss", "lr", "grad_norm", "val_loss", "val_error")
_APP_KEYS = ("config_path", "config_name", "overrides", "subprocess")

CurveNames = tuple[tuple[str, str], ...]  # (role, your metric's name)


@dataclass(frozen=True)
class FunctionSettings:
    """A Python function called in the worker: ``fn(config, report=...)``."""

    kind: ClassVar[str] = "function"
    target: str = BUILTIN_TRAINER
    curves: CurveNames = ()

    def identity(self) -> str:
        return self.target


@dataclass(frozen=True)
class CommandSettings:
    """Any command run once per trial as a child process, given the values as arguments."""

    kind: ClassVar[str] = "command"
    command: tuple[str, ...]
    args: str = "hydra"  # hydra (key=value) | argparse (--key value)
    timeout: float | None = None
    grace: float = 10.0
    curves: CurveNames = ()
    metrics: MetricSettings = MetricSettings()  # where its metrics are read

    def identity(self) -> str:
        return "command " + shlex.join(self.command)


@dataclass(frozen=True)
class HydraAppSettings:
    """A ``@hydra.main`` application: its config tree is the experiment."""

    kind: ClassVar[str] = "hydra_app"
    target: str
    config_dir: str | None = None  # absolute (or pkg://) once located
    config_name: str | None = None
    overrides: tuple[str, ...] = ()
    subprocess: bool = False  # each trial run apart, by Hydra, as from the app's command line
    timeout: float | None = None
    grace: float = 10.0
    version_base: str | None = None  # its @hydra.main's (found when it is located)
    curves: CurveNames = ()

    def identity(self) -> str:
        return "hydra_app " + self.target


TrainerSettings = FunctionSettings | CommandSettings | HydraAppSettings


def settings_from(section: TrainerConfig, target: str | None = None) -> TrainerSettings:
    """The ``trainer`` section checked, ``target`` (a round's ``trainer``) winning; one
    ConfigError naming the key."""
    _check_choices(section)
    command = _command_line(section.command) if section.kind == "command" else ()
    if section.kind != "command" and section.command:
        raise ConfigError(
            "trainer.command",
            f"is for trainer.kind=command (this trainer is a {section.kind}); drop it, or set "
            "trainer.kind=command",
        )
    curves = _curve_names(section)
    child = section.kind == "command" or (section.kind == "hydra_app" and section.subprocess)
    if section.timeout is not None and not child:
        raise ConfigError(
            "trainer.timeout",
            "applies to a trainer in a child process (trainer.kind=command, or a hydra_app with"
            " trainer.subprocess=true): a call in the worker cannot be stopped midway",
        )
    if section.kind != "hydra_app":
        for key in _APP_KEYS:
            if getattr(section, key):
                raise ConfigError(f"trainer.{key}", "is for trainer.kind=hydra_app only")
    target = target or section._target_
    metrics = _metrics(section)
    if section.kind == "command":
        return CommandSettings(
            command, section.args, section.timeout, section.grace, curves, metrics
        )
    if section.kind == "hydra_app":
        return HydraAppSettings(
            target,
            config_dir=section.config_path,
            config_name=section.config_name,
            overrides=tuple(str(o) for o in section.overrides),
            subprocess=section.subprocess,
            timeout=section.timeout,
            grace=section.grace,
            curves=curves,
        )
    return FunctionSettings(target, curves)


def _metrics(section: TrainerConfig) -> MetricSettings:
    """``trainer.metrics`` checked; refused by name for a trainer that is no command."""
    metrics = section.metrics
    if not isinstance(metrics, MetricsConfig):  # a plain mapping where the schema was skipped
        metrics = MetricsConfig(**dict(metrics))
    checked = metric_settings(list(metrics.lines), metrics.tensorboard, metrics.csv)
    if section.kind != "command" and checked != MetricSettings():
        raise ConfigError(
            "trainer.metrics",
            f"is for trainer.kind=command (this trainer is a {section.kind}, which reports "
            "through report(...) or trial_report); drop it, or set trainer.kind=command",
        )
    return checked


def _check_choices(section: TrainerConfig) -> None:
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


def _command_line(line: str | None) -> tuple[str, ...]:
    try:
        command = tuple(shlex.split(line or ""))
    except ValueError as err:
        raise ConfigError("trainer.command", f"cannot split {line!r}: {err}") from None
    if not command:
        raise ConfigError(
            "trainer.command",
            "trainer.kind=command needs the command line, e.g. trainer.command='python train.py'",
        )
    return command


def _curve_names(section: TrainerConfig) -> CurveNames:
    for role, name in section.curves.items():
        if role not in CURVE_ROLES:
            raise ConfigError(
                f"trainer.curves.{role}",
                f"is not a curve the checks read; name one of {', '.join(CURVE_ROLES)}",
            )
        if not isinstance(name, str) or not name:
            raise ConfigError(f"trainer.curves.{role}", f"must name a metric; got {name!r}")
    return tuple(sorted(section.curves.items()))


def settings_of_identity(identity: str) -> TrainerSettings:
    """The settings a stored identity names (enough to say which trainer it was; a
    command's argument style and a Hydra app's config are not part of its identity)."""
    kind, _, rest = identity.partition(" ")
    if kind == "command" and rest:
        return CommandSettings(tuple(shlex.split(rest)))
    if kind == "hydra_app" and rest:
        return HydraAppSettings(rest)
    return FunctionSettings(identity)


def selection_hint(identity: str) -> str:
    """The overrides that select the trainer ``identity`` names, for error messages."""
    kind, _, rest = identity.partition(" ")
    if kind == "command" and rest:
        return f"trainer.kind=command trainer.command={shlex.quote(rest)}"
    if kind == "hydra_app" and rest:
        return f"trainer.kind=hydra_app trainer._target_={rest}"
    return f"trainer._target_={identity}"
