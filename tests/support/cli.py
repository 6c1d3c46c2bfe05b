"""The ``orchestrator`` command run as a user runs it: a real subprocess from the repo root."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    studies: Path, *overrides: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m orchestrator paths.studies=<studies> <overrides>``; output captured."""
    argv = [sys.executable, "-m", "orchestrator", f"paths.studies={studies}", *overrides]
    return run_command(argv, timeout=timeout)


def run_command(argv: list[str], *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``argv`` run from the repo root with it on PYTHONPATH; output captured."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env, timeout=timeout)


def write_own_config(
    conf: Path, config: Mapping[str, Any], rounds: Sequence[Mapping[str, Any]]
) -> Path:
    """A user's config folder: ``conf/mine.yaml`` and one ``conf/round/<name>.yaml`` each."""
    (conf / "round").mkdir(parents=True, exist_ok=True)
    (conf / "mine.yaml").write_text(yaml.safe_dump(dict(config)))
    for rnd in rounds:
        (conf / "round" / f"{rnd['name']}.yaml").write_text(
            yaml.safe_dump(dict(rnd), sort_keys=False)
        )
    return conf


def run_own_config(
    conf: Path, studies: Path, *overrides: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m orchestrator --config-dir <conf> --config-name mine`` with ``studies``."""
    argv = [sys.executable, "-m", "orchestrator", "--config-dir", str(conf),
            "--config-name", "mine", f"paths.studies={studies}", *overrides]  # fmt: skip
    return run_command(argv, timeout=timeout)
