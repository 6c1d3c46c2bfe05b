"""The stages behind the CLI, in one table: the stage's name -> what runs it.

Each stage takes the root config and the validated experiment as plain dataclasses and
returns the process's exit code; none needs Hydra (``stage=train`` reads its run
directory from Hydra when it is there). The round stages open the round once
(``round.py``) and run their steps in order, stopping at the first non-zero code.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from orchestrator.config.schema import STAGES, Config
from orchestrator.stages.analyze import analyze_round
from orchestrator.stages.probe import probe
from orchestrator.stages.promote import history, promote_round
from orchestrator.stages.round import run_round_steps
from orchestrator.stages.train import train
from orchestrator.stages.work import work
from orchestrator.train.config import ExperimentConfig

Stage = Callable[[Config, ExperimentConfig], int]

TABLE: dict[str, Stage] = {
    "run": partial(run_round_steps, steps=[work, analyze_round, promote_round], starts_work=True),
    "work": partial(run_round_steps, steps=[work], starts_work=True),
    "analyze": partial(run_round_steps, steps=[analyze_round], starts_work=False),
    "promote": partial(run_round_steps, steps=[promote_round], starts_work=False),
    "history": history,
    "probe": probe,
    "train": train,
}
assert set(TABLE) == set(STAGES), "every stage the schema accepts has a row here"


def run_stage(root: Config, experiment: ExperimentConfig) -> int:
    """Run the stage ``root.stage`` names; the process's exit code."""
    return TABLE[root.stage](root, experiment)
