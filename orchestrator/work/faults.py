"""Faults of the store outside a trial's training, and trials left behind by dead processes.

A worker must survive a store that fails for a moment (locked SQLite, a dropped
PostgreSQL connection) without losing or double-running a trial, and must not stop for
good on a passing fault: faults are logged with their root cause, counted, backed off
and retried; only ``MAX_STORAGE_FAULTS`` in a row stop the worker with ``StorageError``.
A trial of its own that a fault left RUNNING (an orphan) is failed with the reason and
retried once as soon as the store takes writes again; trials of dead local workers are
reaped the same way (``liveness.py``).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field

import optuna
from optuna.trial import TrialState

from orchestrator.exceptions import StorageError
from orchestrator.store.record import STORAGE_FAULT, TrialAttr
from orchestrator.work.budget import StudyCounts
from orchestrator.work.liveness import reap_dead_trials, retry_once

log = logging.getLogger(__name__)

MAX_STORAGE_FAULTS = 5  # consecutive faults before the worker gives up with StorageError


def describe_fault(err: BaseException) -> str:
    """The root cause of a storage fault in one line.

    Optuna's ``_run_trial`` masks a failed write as ``AssertionError: Should not reach.``
    (reliability.md 1.1); the real cause ("database is locked") is down the context chain.
    """
    root, seen = err, {id(err)}
    while (nxt := root.__cause__ or root.__context__) is not None and id(nxt) not in seen:
        root = nxt
        seen.add(id(root))
    text = f"{type(root).__name__}: {root}".splitlines()[0][:300]
    return text if root is err else f"{text} (surfaced as {type(err).__name__})"


@dataclass
class StorageFaults:
    """Consecutive faults of the store, and this worker's trials they left RUNNING."""

    storage: optuna.storages.BaseStorage
    in_a_row: int = 0
    orphans: dict[int, tuple[optuna.Study, str]] = field(default_factory=dict)

    def record(self, err: Exception, study: optuna.Study | None, trial_id: int | None) -> None:
        """Log a fault (never silent), remember its orphan, back off; too many in a row stop
        the worker with ``StorageError``."""
        self.in_a_row += 1
        what = describe_fault(err)
        if self.in_a_row >= MAX_STORAGE_FAULTS:
            raise StorageError(
                f"the store failed {self.in_a_row} times in a row (last: {what}); finished "
                "trials are kept: fix the store and run the same command again to resume"
            ) from err
        log.warning(
            "storage error (%d/%d in a row), retrying: %s", self.in_a_row, MAX_STORAGE_FAULTS, what
        )
        if study is not None and trial_id is not None:
            self.orphans[trial_id] = (study, f"{STORAGE_FAULT}{what}")
        time.sleep(min(0.2 * 2**self.in_a_row, 5.0) * (0.5 + random.random()))

    def fail_orphans(self) -> None:
        """Fail (with the reason) and re-queue our own trials that a fault left RUNNING.

        This process is alive, so neither the reaper nor (on the journal) a heartbeat would
        ever release them; retried at every claim until the store takes the writes.
        """
        for trial_id, (study, reason) in list(self.orphans.items()):
            try:
                if self.storage.get_trial(trial_id).state == TrialState.RUNNING:
                    self.storage.set_trial_user_attr(trial_id, TrialAttr.ERROR, reason)
                    self.storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
                    retry_once(study, self.storage.get_trial(trial_id))
                del self.orphans[trial_id]
            except Exception as again:  # noqa: BLE001 - the store still fails: next claim
                log.warning("trial %d not marked failed yet: %s", trial_id, type(again).__name__)


def requeue(
    study: optuna.Study, storage: optuna.storages.BaseStorage, trial_id: int | None
) -> None:
    """Queue a retry of an interrupted trial (its point was never evaluated), however many
    times it was interrupted before (``TrialAttr.INTERRUPTED``)."""
    if trial_id is None:
        return
    trial = storage.get_trial(trial_id)
    if trial.state == TrialState.FAIL:
        retry_once(study, trial, interrupted=TrialAttr.INTERRUPTED in trial.user_attrs)


def reap(
    studies: list[optuna.Study],
    storage: optuna.storages.BaseStorage,
    counts: list[StudyCounts],
) -> int:
    """Fail and re-queue the trials of dead workers on this machine (any store)."""
    reaped = 0
    for study, c in zip(studies, counts, strict=True):
        if not c.running:
            continue
        running = storage.get_all_trials(
            study._study_id, deepcopy=False, states=(TrialState.RUNNING,)
        )
        n = reap_dead_trials(study, storage, running)
        if n:
            log.warning(
                "%s: %d trial(s) of a dead worker failed and re-queued", study.study_name, n
            )
        reaped += n
    return reaped
