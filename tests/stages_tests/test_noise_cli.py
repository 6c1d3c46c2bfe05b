"""Issue 25 through the real command line: an own-config function trainer with a
deterministic objective on a grid of 23 values, all tried.

The answer quotes no misfit as noise (none is measured before promotion; after its seed
reruns agree, "deterministic"), no finding asks for more trials than the grid has, and
the stage's summary counts the draft's changes as the draft does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.cli import ROOT

CONFIG = {
    "defaults": ["orchestrator", "_self_"],
    "trainer": {"_target_": "tests.support.trainers.own_deterministic", "seed_key": "seed",
                "length_key": "epochs"},
    "objective": {"metric": "loss", "direction": "minimize"},
    "x": 0.0, "epochs": 1, "seed": 0,
}  # fmt: skip
ROUND = {
    "name": "det",
    "goal": "Where is the minimum of x?",
    "start_from": "base",
    "nuisance": {"x": {"low": -8.0, "high": 14.0}},
    "budget": {"sampler": "grid", "grid": {"x": [float(x) for x in range(-8, 15)]},
               "trials_per_study": 23, "seed": 0},
    "promotion": {"seeds": 2},
}  # fmt: skip


def orchestrator(tmp: Path, *overrides: str) -> str:
    conf = tmp / "conf"
    (conf / "round").mkdir(parents=True, exist_ok=True)
    (conf / "mine.yaml").write_text(yaml.safe_dump(CONFIG))
    (conf / "round" / "det.yaml").write_text(yaml.safe_dump(ROUND, sort_keys=False))
    argv = [sys.executable, "-m", "orchestrator", "--config-dir", str(conf), "--config-name",
            "mine", f"paths.studies={tmp / 'studies'}", "round=det", *overrides]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_a_deterministic_objective_on_a_fully_tried_grid(tmp_path):
    out = orchestrator(tmp_path, "stage=run")
    assert "det   23/23" in out
    assert "1. det: 0.25 (noise not measured: no repeated config or seed rerun" in out
    assert "0.25 +-" not in out.split("promotion of det")[0]  # no misfit quoted as noise
    assert "more trials" not in out and "density" not in out
    draft = (tmp_path / "studies" / "det" / "next_round.yaml").read_text()
    assert "# Changes (1 change and a new sampler seed):" in draft
    assert "(1 change and a new sampler seed)" in out.split("findings (")[0]  # the answer
    assert "next-round draft (1 change and a new sampler seed):" in out  # the stage's summary
    assert "PROMOTED" in out
    again = orchestrator(tmp_path, "stage=analyze")  # promotion's seed reruns measured it
    assert "1. det: 0.25 +- 0 (deterministic: 4 seed reruns gave identical values)" in again
