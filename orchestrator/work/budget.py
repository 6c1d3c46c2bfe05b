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


@dataclass(frozen=True)
class StudyCounts:
    """One study's trials by state: finished = COMPLETE + PRUNED."""

    finished: int = 0
    running: int = 0
    waiting: int = 0  # retries enqueued with fixed parameters, run before new points
    failed: int = 0

    @property
    def claimed(self) -> int:
        """Slots of the budget taken: finished, running, or waiting to be retried."""
        return self.finished + self.running + self.waiting


def _from_states(states: dict[TrialState, int]) -> StudyCounts:
    return StudyCounts(
        finished=states.get(TrialState.COMPLETE, 0) + states.get(TrialState.PRUNED, 0),
        running=states.get(TrialState.RUNNING, 0),
        waiting=states.get(TrialState.WAITING, 0),
        failed=states.get(TrialState.FAIL, 0),
    )


def count_trials(
    storage: optuna.storages.BaseStorage, study_ids: Sequence[int]
) -> list[StudyCounts]:
    """Each study's counts, in the order of ``study_ids``, straight from the store."""
    if isinstance(storage, optuna.storages.RDBStorage):
        from optuna.storages._rdb.models import TrialModel  # the schema, stable since v3.2

        query = (
            sqlalchemy.select(TrialModel.study_id, TrialModel.state, sqlalchemy.func.count())
            .where(TrialModel.study_id.in_(list(study_ids)))
            .group_by(TrialModel.study_id, TrialModel.state)
        )
        per_study: dict[int, dict[TrialState, int]] = {i: {} for i in study_ids}
        with storage.engine.connect() as conn:
            for study_id, state, n in conn.execute(query):
                per_study[study_id][TrialState[state] if isinstance(state, str) else state] = n
        return [_from_states(per_study[i]) for i in study_ids]
    out = []
    for study_id in study_ids:
        states: dict[TrialState, int] = {}
        for trial in storage.get_all_trials(study_id, deepcopy=False):
            states[trial.state] = states.get(trial.state, 0) + 1
        out.append(_from_states(states))
    return out


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
