"""Running a parsed round in this process, as one worker with no lock (tests only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.rounds.space import Round
from orchestrator.train.config import ExperimentConfig
from orchestrator.work.loop import WorkerOptions, run_round
from orchestrator.work.studies import StudySummary


def run_in_process(
    rnd: Round, start: ExperimentConfig, storage: Any, trainer: str, artifacts_dir: Path
) -> list[StudySummary]:
    """Every study of ``rnd`` to its budget with ``trainer``; the summaries."""
    options = WorkerOptions(trainer_target=trainer, artifacts_dir=artifacts_dir, progress=False)
    return run_round(rnd, start, storage, options)
