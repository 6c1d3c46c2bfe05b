"""How many trials each study has in each state, read fresh, and which study to feed next.

Workers share the round's studies, so a worker cannot trust its own tally: before each
claim it re-counts every study under the round's claim lock (``orchestrator.claims``).
On an RDB store that is one ``GROUP BY`` query over Optuna's ``trials`` table (reading
whole trials would move every trial's curves across the wire for each claim); other
stores (the journal file) keep their trials in memory, so counting them is cheap.
``next_study`` is the pure load-balancing rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import optuna
import sqlalchemy
from optuna.trial import TrialState

from orchestrator.store.record import TrialAttr

INTERRUPTED = TrialAttr.INTERRUPTED


@dataclass(frozen=True)
class StudyCounts:
    """One study's trials by state: finished = COMPLETE + PRUNED."""

    finished: int = 0
    running: int = 0
    waiting: int = 0  # retries enqueued with fixed parameters, run before new points
    failed: int = 0  # failed by their training: interrupted trials are not counted here

    @property
    def claimed(self) -> int:
        """Slots of the budget taken: finished, running, or waiting to be retried."""
        return self.finished + self.running + self.waiting


def _from_states(states: dict[TrialState, int], interrupted: int = 0) -> StudyCounts:
    return StudyCounts(
        finished=states.get(TrialState.COMPLETE, 0) + states.get(TrialState.PRUNED, 0),
        running=states.get(TrialState.RUNNING, 0),
        waiting=states.get(TrialState.WAITING, 0),
        failed=states.get(TrialState.FAIL, 0) - interrupted,
    )


def count_trials(
    storage: optuna.storages.BaseStorage, study_ids: Sequence[int]
) -> list[StudyCounts]:
    """Each study's counts, in the order of ``study_ids``, straight from the store.

    FAIL trials stopped from outside (``TrialAttr.INTERRUPTED``: a signal, a SLURM time
    limit or preemption) are not failures of the study: however often a job is requeued,
    its trials do not bring the study closer to giving up (``budget.max_failures``).
    """
    if isinstance(storage, optuna.storages.RDBStorage):
        return _count_rdb(storage, study_ids)
    out = []
    for study_id in study_ids:
        states: dict[TrialState, int] = {}
        interrupted = 0
        for trial in storage.get_all_trials(study_id, deepcopy=False):
            states[trial.state] = states.get(trial.state, 0) + 1
            interrupted += trial.state == TrialState.FAIL and INTERRUPTED in trial.user_attrs
        out.append(_from_states(states, interrupted))
    return out


def _count_rdb(storage: optuna.storages.RDBStorage, study_ids: Sequence[int]) -> list[StudyCounts]:
    """Two ``GROUP BY`` queries: trials by state, interrupted FAIL trials."""
    from optuna.storages._rdb.models import (  # the schema, stable since v3.2
        TrialModel,
        TrialUserAttributeModel,
    )

    ids = list(study_ids)
    by_state = (
        sqlalchemy.select(TrialModel.study_id, TrialModel.state, sqlalchemy.func.count())
        .where(TrialModel.study_id.in_(ids))
        .group_by(TrialModel.study_id, TrialModel.state)
    )
    interrupted_fails = (
        sqlalchemy.select(TrialModel.study_id, sqlalchemy.func.count())
        .join(TrialUserAttributeModel, TrialUserAttributeModel.trial_id == TrialModel.trial_id)
        .where(
            TrialModel.study_id.in_(ids),
            TrialModel.state == TrialState.FAIL,
            TrialUserAttributeModel.key == INTERRUPTED,
        )
        .group_by(TrialModel.study_id)
    )
    per_study: dict[int, dict[TrialState, int]] = {i: {} for i in ids}
    interrupted: dict[int, int] = {}
    with storage.engine.connect() as conn:
        for study_id, state, n in conn.execute(by_state):
            per_study[study_id][TrialState[state] if isinstance(state, str) else state] = n
        for study_id, n in conn.execute(interrupted_fails):
            interrupted[study_id] = n
    return [_from_states(per_study[i], interrupted.get(i, 0)) for i in ids]


def next_study(
    counts: Sequence[StudyCounts],
    budget: int,
    max_failures: int,
    stopped: Sequence[bool] = (),
) -> int | None:
    """The study this worker should claim a trial of, or None when none is open.

    Retries come first (their point is already owed); then the study with the fewest
    claimed slots under its budget, so parallel workers fill studies evenly. A study that
    failed ``max_failures`` times is given up; a study stopped by racing (``stopped``)
    gets no new trial.
    """
    racing = [i for i in range(len(counts)) if not (i < len(stopped) and stopped[i])]
    retries = [i for i in racing if counts[i].waiting and counts[i].failed < max_failures]
    if retries:
        return min(retries, key=lambda i: counts[i].claimed)
    open_ = [i for i in racing if counts[i].claimed < budget and counts[i].failed < max_failures]
    if not open_:
        return None
    return min(open_, key=lambda i: (counts[i].claimed, i))
