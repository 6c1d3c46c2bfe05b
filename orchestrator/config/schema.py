"""Hydra's view of the config: the root schema registered in the ConfigStore, and the way out.

The YAML files under ``conf/`` extend the dataclass schema registered here, so a typo or
a wrong type fails when Hydra composes the config. A user's own primary config includes
``conf/orchestrator.yaml`` (our sections) and adds keys of their own, which become the
experiment. ``root_from_cfg`` and ``experiment_from_cfg`` turn the composed ``DictConfig``
into plain, validated data (``experiment_from_cfg`` is in ``trainers/configured.py``: a
Hydra app's tree is read through the app): nothing beyond these, ``cli.py`` and the
trainer's door (``trainers/``) ever sees a ``DictConfig``.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from orchestrator.config.round import RoundConfig, with_dotted_paths
from orchestrator.config.sections import (
    AnalysisConfig,
    PathsConfig,
    ProbeConfig,
    ServeConfig,
    StorageConfig,
    TrainerConfig,
)
from orchestrator.exceptions import ConfigError
from orchestrator.train.config import (
    SECTIONS,
    ExperimentConfig,
    validate_experiment,
)

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"  # Hydra's config directory

STAGES = (
    "run",
    "work",
    "analyze",
    "promote",
    "history",
    "probe",
    "train",
    "dashboard",
    "tensorboard",
    "from_sweeper",
    "metrics",
)


@dataclass
class _Run:
    """What this command runs: the root keys that come before the experiment's sections."""

    stage: str = "run"
    round: RoundConfig | None = None
    worker: int | None = None  # this process is one worker of many (Hydra multirun: worker=0,1,2)
    metrics_log: str | None = None  # stage=metrics: a saved log (or a trial folder) to read


@dataclass
class Config(ExperimentConfig, _Run):
    """The root schema that ``conf/config.yaml`` extends.

    Its keys in order: ``_Run``'s, the experiment's sections (declared once, in
    ``ExperimentConfig``), then the orchestrator's own sections below.
    """

    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)


# The orchestrator's own sections (the round, then those declared in ``Config``): everything
# else in an own config is the user's experiment.
OWN_SECTIONS: dict[str, type] = {
    "round": RoundConfig,
    **{
        f.name: typing.get_type_hints(Config)[f.name]
        for f in dataclasses.fields(Config)
        if f.name not in SECTIONS and f.name not in {f.name for f in dataclasses.fields(_Run)}
    },
}
ORCHESTRATOR_KEYS = ("stage", "worker", "metrics_log", "hydra", *OWN_SECTIONS)


def round_names(builtin: bool) -> list[str]:
    """The round files this command can pick (``round=<name>``): the ones Hydra finds in the
    config dirs, less the built-in experiment's own when the config is not the built-in."""
    from hydra.core.global_hydra import GlobalHydra

    ours = {p.stem for p in (CONF_DIR / "round").glob("*.yaml")}
    if not GlobalHydra.instance().is_initialized():
        return sorted(ours)
    found = set(GlobalHydra.instance().config_loader().get_group_options("round"))
    return sorted(found if builtin else found - ours)


def register_configs() -> None:
    """Register the root schema as ``schema`` (idempotent; Hydra allows re-storing)."""
    ConfigStore.instance().store(name="schema", node=Config)


def root_from_cfg(cfg: DictConfig) -> Config:
    """The composed config's orchestrator sections as the root dataclass, checked.

    The built-in config is typed by Hydra already (``schema``); an own config composes our
    sections as plain YAML beside the user's keys, so each is checked here against its
    dataclass, with the key named.
    """
    if cfg.stage not in STAGES:
        raise ConfigError("stage", f"must be one of {', '.join(STAGES)}; got {cfg.stage!r}")
    if cfg.get("worker") is not None and cfg.worker < 0:
        raise ConfigError("worker", f"must be an integer >= 0 (a worker index); got {cfg.worker}")
    if is_builtin(cfg):
        _no_added_keys(cfg)
        root = cast(Config, OmegaConf.to_object(cfg))  # the schema above makes it one
    else:
        sections: dict[str, Any] = {
            "stage": cfg.stage,
            "worker": cfg.get("worker"),
            "metrics_log": cfg.get("metrics_log"),
        }
        for key, cls in OWN_SECTIONS.items():
            if cfg.get(key) is not None:
                sections[key] = _checked_section(cfg, key, cls)
        root = Config(**sections)
    if root.round is not None:
        root.round = with_dotted_paths(root.round)
    return root


def own_section_overrides(args: list[str]) -> list[str]:
    """Command-line overrides of our sections made ``++`` (add or replace).

    A user's own config composes our sections as plain YAML, which Hydra locks: a key the
    YAML does not spell (``round.budget.workers=2``, ``paths.tensorboard=false``, a range
    ``round.nuisance.optim.lr.low=1e-4``) would need ``+``, and the README's overrides would
    fail on every own config. ``++`` lets Hydra take them; ``root_from_cfg`` then checks each
    section against its schema, so a typo is still one error naming the key."""
    own = "|".join(OWN_SECTIONS)
    pattern = re.compile(rf"(?:{own})\.[^=]*=")
    return [f"++{arg}" if pattern.match(arg) else arg for arg in args]


def _no_added_keys(cfg: DictConfig) -> None:
    """``+model.hidden_units=128`` passes Hydra (``+`` adds a key) but the built-in ``fit``
    would never read it: refuse it rather than drop it."""
    for section, cls in SECTIONS.items():
        names = {f.name for f in dataclasses.fields(cls)}
        for key in cfg[section]:
            if key not in names:
                raise ConfigError(
                    f"{section}.{key}",
                    "is not a key of the built-in experiment, so its fit would ignore it; to "
                    "tune keys of your own, compose your own config (docs/own-code.md)",
                )


def _checked_section(cfg: DictConfig, key: str, cls: type) -> Any:
    try:
        values = OmegaConf.to_container(cfg[key], resolve=True)  # ${paths.studies} needs the root
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(cls), values))
    except OmegaConfBaseException as err:
        where = f"{key}.{err.full_key}" if getattr(err, "full_key", None) else key
        raise ConfigError(where, str(err).splitlines()[0]) from None


def is_builtin(cfg: DictConfig) -> bool:
    """Whether ``cfg`` is the built-in experiment's config (``conf/config.yaml``)."""
    return OmegaConf.get_type(cfg) is Config


def experiment_of(root: Config) -> ExperimentConfig:
    """The root config's built-in experiment part, validated."""
    experiment = ExperimentConfig(**{name: getattr(root, name) for name in SECTIONS})
    validate_experiment(experiment)
    return experiment
