"""A round's progress read from the store alone, for a process that runs none of its trials.

The command that submits SLURM jobs waits on a login node while the jobs train elsewhere;
without this it showed only the submission lines until the last job ended. It knows the
round's name and store, not its studies (the first job creates them), so everything here
comes from what the store records: the studies stamped with the round's name, each one's
budget (``trials_per_study``) and carried-in trials, its trial states and best value. The
store is opened without creating its schema (the jobs create it, under their lock): until
the first job has, there is nothing to show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import optuna

from orchestrator.config.sections import StorageConfig
from orchestrator.store.record import PROMOTION_SUFFIX, StudyAttr
from orchestrator.store.storage import create_storage, dispose_storage
from orchestrator.work.budget import count_trials

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundProgress:
    """What the store holds for one round's studies (promotion reruns left out)."""

    round_name: str
    studies: int
    budget: int  # the round's own trials wanted, every study
    finished: int  # COMPLETE and PRUNED, less those carried in from earlier rounds
    running: int
    failed: int
    best: str  # "val_error=0.1234 (round_1/model.depth=2 trial 3)", or "" before any

    def line(self) -> str:
        best = f"; best {self.best}" if self.best else ""
        return (
            f"{self.round_name}: {self.finished}/{self.budget} trials done in {self.studies} "
            f"studies, {self.running} running, {self.failed} failed{best}"
        )


def read_progress(storage: optuna.storages.BaseStorage, round_name: str) -> RoundProgress | None:
    """The round's progress, or None while the store holds none of its studies."""
    studies = [
        s
        for s in storage.get_all_studies()
        if s.user_attrs.get(StudyAttr.ROUND) == round_name
        and not s.study_name.endswith(PROMOTION_SUFFIX)
    ]
    if not studies:
        return None
    ids = [s._study_id for s in studies]
    counts = count_trials(storage, ids)
    budget = sum(int(s.user_attrs.get(StudyAttr.TRIALS_PER_STUDY, 0)) for s in studies)
    carried = sum(int(s.user_attrs.get(StudyAttr.CARRIED, 0)) for s in studies)
    best = _best(storage, studies, ids)
    return RoundProgress(
        round_name=round_name,
        studies=len(studies),
        budget=budget,
        finished=sum(c.finished for c in counts) - carried,
        running=sum(c.running for c in counts),
        failed=sum(c.failed for c in counts),
        best=best,
    )


def _best(storage: optuna.storages.BaseStorage, studies: list[Any], ids: list[int]) -> str:
    """The best finished trial over the round's studies, as one phrase."""
    found: tuple[float, str, int] | None = None
    for study, study_id in zip(studies, ids, strict=True):
        try:
            trial = storage.get_best_trial(study_id)
        except ValueError:  # no COMPLETE trial yet
            continue
        if trial.value is None:
            continue
        sign = 1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else -1.0
        if found is None or sign * trial.value < sign * found[0]:
            found = (trial.value, study.study_name, trial.number)
    if found is None:
        return ""
    metric = next((s.user_attrs.get(StudyAttr.METRIC) for s in studies), None) or "value"
    return f"{metric}={found[0]:.4g} ({found[1]} trial {found[2]})"


class ProgressFollower:
    """Logs the round's progress each time it changes, reading the store every ``poll()``."""

    def __init__(self, storage_config: StorageConfig, round_name: str) -> None:
        self.storage_config, self.round_name = storage_config, round_name
        self.storage: optuna.storages.BaseStorage | None = None
        self.last: str | None = None

    def poll(self) -> RoundProgress | None:
        """Read the store once; log a line when the progress changed. Never raises: the
        display must not stop the command that waits for the jobs."""
        try:
            if self.storage is None:
                self.storage = create_storage(self.storage_config, create_schema=False)
            progress = read_progress(self.storage, self.round_name)
        except Exception as err:  # noqa: BLE001 - no schema yet, a dropped connection, ...
            log.debug("progress read failed: %s", err)
            return None
        if progress is not None and progress.line() != self.last:
            self.last = progress.line()
            log.info(self.last)
        return progress

    def close(self) -> None:
        if self.storage is not None:
            dispose_storage(self.storage)
            self.storage = None
