"""An example under ``examples/`` run as a user runs it: the installed console script,
from the example's folder, with the example's own config folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.cli import ROOT

EXAMPLES = ROOT / "examples"


def run_example(
    name: str, studies: Path, *overrides: str, conf: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess[str]:
    """``orchestrator --config-dir conf --config-name <name> paths.studies=<studies> ...``
    in ``examples/<name>``."""
    script = shutil.which("orchestrator") or str(Path(sys.executable).parent / "orchestrator")
    folder = EXAMPLES / name
    return subprocess.run(
        [script, "--config-dir", str(conf or folder / "conf"), "--config-name", name,
         f"paths.studies={studies}", *overrides],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
