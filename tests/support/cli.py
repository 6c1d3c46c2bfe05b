"""The ``orchestrator`` command run as a user runs it: a real subprocess from the repo root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
