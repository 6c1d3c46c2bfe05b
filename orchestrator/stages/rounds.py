"""The round stages as step lists: work, analyze, promote, and run (all three in order)."""

from __future__ import annotations

from orchestrator.config.experiment import Experiment
from orchestrator.config.schema import Config
from orchestrator.stages.analyze import analyze_round
from orchestrator.stages.promote import promote_round
from orchestrator.stages.round import run_round_steps
from orchestrator.stages.work import work


def run(root: Config, base: Experiment) -> int:
    return run_round_steps(root, base, [work, analyze_round, promote_round], starts_work=True)


def work_only(root: Config, base: Experiment) -> int:
    return run_round_steps(root, base, [work], starts_work=True)


def analyze_only(root: Config, base: Experiment) -> int:
    return run_round_steps(root, base, [analyze_round], starts_work=False)


def promote_only(root: Config, base: Experiment) -> int:
    return run_round_steps(root, base, [promote_round], starts_work=False)
