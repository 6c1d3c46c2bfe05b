"""The incumbent: the current best full configuration, ``studies/incumbent.yaml``.

Replaced atomically (write a temporary file in the same directory, flush and fsync it,
then rename over the old one), so a crash leaves the old file or the new one, never half
of one. Each promoted configuration is also kept as ``studies/history/<round>.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.store import paths
from orchestrator.store.files import atomic_write
from orchestrator.train.config import (
    ExperimentConfig,
    experiment_from_dict,
    experiment_to_dict,
    validate_experiment,
)


@dataclass(frozen=True)
class Incumbent:
    """The incumbent config and where it came from (``promoted_by``: None when hand-made)."""

    config: ExperimentConfig
    promoted_by: str | None
    path: Path


def read_incumbent(studies: str | Path) -> Incumbent | None:
    """The incumbent, or None when there is none yet."""
    path = paths.incumbent_file(studies)
    if not path.exists():
        return None
    raw = yaml.safe_load(path.read_text()) or {}
    config = experiment_from_dict(raw.get("experiment") or raw)
    validate_experiment(config)
    return Incumbent(config, raw.get("promoted_by"), path)


def write_incumbent(
    studies: str | Path, config: ExperimentConfig, promoted_by: str, evidence: dict[str, Any]
) -> Path:
    """Make ``config`` the incumbent; keep a copy in ``history/<round>.yaml`` first."""
    document = {
        "promoted_by": promoted_by,
        "evidence": evidence,
        "experiment": experiment_to_dict(config),
    }
    text = yaml.safe_dump(document, sort_keys=False)
    atomic_write(paths.history_file(studies, promoted_by), text)
    target = paths.incumbent_file(studies)
    atomic_write(target, text)
    return target


def starting_config(
    start_from: str, base: ExperimentConfig, studies: str | Path
) -> tuple[ExperimentConfig, str]:
    """The incumbent when asked for and present, else the composed base config."""
    incumbent = read_incumbent(studies) if start_from == "incumbent" else None
    if incumbent is not None:
        origin = f"by {incumbent.promoted_by}" if incumbent.promoted_by else "by hand"
        return incumbent.config, f"{incumbent.path} (promoted {origin})"
    if start_from == "incumbent":
        return base, f"the base config (no {paths.incumbent_file(studies)} yet)"
    return base, "the base config"
