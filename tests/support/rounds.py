"""Running a parsed round in this process, as one worker with no lock (tests only)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from orchestrator.config.experiment import Experiment, builtin_experiment
from orchestrator.config.trainer_settings import FunctionSettings
from orchestrator.rounds.space import Round
from orchestrator.train.config import ExperimentConfig
from orchestrator.work.loop import WorkerOptions, run_round
from orchestrator.work.studies import StudySummary


def as_experiment(start: Experiment | ExperimentConfig | None, trainer: str) -> Experiment:
    """``start`` (the built-in dataclass, or an experiment) trained by ``trainer``."""
    if isinstance(start, Experiment):
        return dataclasses.replace(start, trainer_settings=FunctionSettings(trainer))
    return builtin_experiment(start, trainer)


def run_in_process(
    rnd: Round,
    start: Experiment | ExperimentConfig,
    storage: Any,
    trainer: str,
    artifacts_dir: Path,
) -> list[StudySummary]:
    """Every study of ``rnd`` to its budget with ``trainer``; the summaries."""
    options = WorkerOptions(artifacts_dir=artifacts_dir, progress=False)
    return run_round(rnd, as_experiment(start, trainer), storage, options)
