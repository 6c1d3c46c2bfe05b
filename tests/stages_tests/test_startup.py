"""A command pays only for what it uses: the stage table resolves lazily, and torch is
imported only where training or probing happens (it costs seconds per command)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.config.schema import STAGES
from orchestrator.stages import TABLE, stage_function
from tests.support.cli import ROOT

# Runs the real CLI in a fresh interpreter and says, at exit, whether torch was imported.
PROBE = """
import atexit, sys
atexit.register(lambda: print("torch imported:", "torch" in sys.modules, file=sys.stderr))
sys.argv = ["orchestrator", *sys.argv[1:]]
from orchestrator.cli import main
main()
"""


def torch_imported(studies: Path, *overrides: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, f"paths.studies={studies}", *overrides],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("torch imported:"), done.stderr
    return last.endswith("True")


@pytest.mark.parametrize("name", STAGES)
def test_every_stage_the_schema_accepts_has_a_function_in_the_table(name):
    assert name in TABLE and callable(stage_function(name))


def test_history_does_not_import_torch(tmp_path):
    assert not torch_imported(tmp_path, "stage=history")


def test_a_whole_round_with_a_trainer_that_does_not_use_torch_never_imports_it(tmp_path):
    trainer = "trainer._target_=tests.support.trainers.analytic"
    assert not torch_imported(
        tmp_path, "round=round_1", trainer, "round.budget.trials_per_study=2"
    )
    assert (tmp_path / "incumbent.yaml").exists()  # worked, analysed and promoted


def test_the_built_in_trainer_does_import_it(tmp_path):
    """The check above can fail: the same probe sees torch when a run trains a network."""
    tiny = ["data.num_examples=200", "data.val_size=50", "data.image_size=16", "model.width=8"]
    assert torch_imported(tmp_path, "stage=train", "train.steps=4", "train.eval_every=2", *tiny)
