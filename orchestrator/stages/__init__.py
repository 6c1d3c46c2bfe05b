"""The stages behind the CLI, in one table: the stage's name -> the function that runs it.

Each stage takes the root config and the validated experiment as plain dataclasses and
returns the process's exit code; none needs Hydra (``stage=train`` reads its run
directory from Hydra when it is there). A stage's module is imported only when it runs,
so a command pays only for what it uses (``stage=history`` needs neither Optuna, SciPy
nor torch). The round stages open the round once (``round.py``) and run their steps in
order, stopping at the first non-zero code (``rounds.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from orchestrator.config.experiment import Experiment
from orchestrator.config.schema import STAGES, Config

Stage = Callable[[Config, Experiment], int]

TABLE: dict[str, tuple[str, str]] = {  # stage -> (module, function)
    "run": ("orchestrator.stages.rounds", "run"),
    "work": ("orchestrator.stages.rounds", "work_only"),
    "analyze": ("orchestrator.stages.rounds", "analyze_only"),
    "promote": ("orchestrator.stages.rounds", "promote_only"),
    "history": ("orchestrator.stages.history", "history"),
    "probe": ("orchestrator.stages.probe", "probe"),
    "train": ("orchestrator.stages.train", "train"),
    "dashboard": ("orchestrator.stages.serve", "dashboard"),
    "tensorboard": ("orchestrator.stages.serve", "tensorboard"),
    "from_sweeper": ("orchestrator.stages.from_sweeper", "from_sweeper"),
    "metrics": ("orchestrator.stages.metrics", "metrics"),
}
assert set(TABLE) == set(STAGES), "every stage the schema accepts has a row here"


def stage_function(name: str) -> Stage:
    """The function of stage ``name`` (its module imported now)."""
    module, function = TABLE[name]
    stage: Stage = getattr(importlib.import_module(module), function)
    return stage


def run_stage(root: Config, experiment: Experiment) -> int:
    """Run the stage ``root.stage`` names; the process's exit code."""
    return stage_function(root.stage)(root, experiment)
