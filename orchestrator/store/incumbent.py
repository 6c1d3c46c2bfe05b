"""The incumbent: the current best full configuration, ``studies/incumbent.yaml``.

Replaced atomically (write a temporary file in the same directory, flush and fsync it,
then rename over the old one), so a crash leaves the old file or the new one, never half
of one. Each promoted configuration is also kept as ``studies/history/<round>.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config.experiment import Experiment
from orchestrator.config.trainer_settings import selection_hint
from orchestrator.config.yaml_files import read_yaml
from orchestrator.exceptions import ConfigError
from orchestrator.store import paths
from orchestrator.store.files import atomic_write


@dataclass(frozen=True)
class Incumbent:
    """The incumbent config and where it came from (``promoted_by``: None when hand-made).

    ``trainer`` is None in files of earlier versions and in hand-made ones."""

    tree: dict[str, Any]
    trainer: str | None
    promoted_by: str | None
    path: Path

    def experiment(self, base: Experiment, *, trains: bool = True) -> Experiment:
        """The incumbent as an experiment like ``base`` (its keys, types and trainer).

        ``trains``: it is to be trained (work, promotion), so it must be ``base``'s trainer's;
        otherwise (analysis) the values are all that is read."""
        if trains and self.trainer is not None and self.trainer != base.trainer:
            raise ConfigError(
                "trainer._target_",
                f"{self.path} was promoted with trainer {self.trainer}, and this round trains "
                f"with {base.trainer}: its values may not mean the same to it. Use "
                f"{selection_hint(self.trainer)}, or start from your base config "
                "(round.start_from=base)",
            )
        unknown = sorted(_leaves(self.tree) - set(base.schema.types))
        if unknown:
            raise ConfigError(
                "round.start_from",
                f"{self.path} holds keys your config does not have ({', '.join(unknown[:5])});"
                " it belongs to another experiment: start from base (round.start_from=base)",
            )
        experiment = base.with_tree(_merged(base.tree, self.tree))  # a partial file: base fills
        experiment.validate()
        return experiment


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, section by section (a hand-made incumbent may be partial)."""
    out = dict(base)
    for key, value in over.items():
        below = out.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            out[key] = _merged(below, value)
        else:
            out[key] = value
    return out


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out |= _leaves(value, f"{prefix}{key}.")
        else:
            out.add(f"{prefix}{key}")
    return out


def read_incumbent(studies: str | Path) -> Incumbent | None:
    """The incumbent, or None when there is none yet."""
    path = paths.incumbent_file(studies)
    if not path.exists():
        return None
    raw = read_yaml(path) or {}
    tree = raw.get("experiment") or raw
    return Incumbent(tree, raw.get("trainer"), raw.get("promoted_by"), path)


def write_incumbent(
    studies: str | Path, config: Experiment, promoted_by: str, evidence: dict[str, Any]
) -> Path:
    """Make ``config`` the incumbent; keep a copy in ``history/<round>.yaml`` first."""
    document = {
        "promoted_by": promoted_by,
        "evidence": evidence,
        "trainer": config.trainer,
        "experiment": dict(config.tree),
    }
    text = yaml.safe_dump(document, sort_keys=False)
    atomic_write(paths.history_file(studies, promoted_by), text)
    target = paths.incumbent_file(studies)
    atomic_write(target, text)
    return target


def starting_config(
    start_from: str, base: Experiment, studies: str | Path, *, trains: bool = True
) -> tuple[Experiment, str]:
    """The incumbent when asked for and present, else the composed base config."""
    incumbent = read_incumbent(studies) if start_from == "incumbent" else None
    if incumbent is not None:
        origin = f"by {incumbent.promoted_by}" if incumbent.promoted_by else "by hand"
        experiment = incumbent.experiment(base, trains=trains)
        return experiment, f"{incumbent.path} (promoted {origin})"
    if start_from == "incumbent":
        return base, f"the base config (no {paths.incumbent_file(studies)} yet)"
    return base, "the base config"
