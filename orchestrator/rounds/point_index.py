"""Which point of the round's quasi-random sequence a trial evaluates: kept by index.

Every study of a round (one per scientific value) must get the same nuisance points in the
same order, whatever fails, is retried, interrupted or resumed: that is what makes the
comparison between scientific values a paired one. Indexing the sequence by trial number
breaks it as soon as a trial is retried: the retry is a new trial with the next number, so
the point meant for that number is never tried, and two runs of one round with different
interruptions evaluate different points.

So a trial's point index is its own number less the retries numbered before it, recorded
(the ``point_index`` system attribute, which every retry copies from the trial it repeats)
where it differs from the number: with no retry it is the trial's number, exactly as
before, and nothing is written. The rule reads only trials numbered before the new one,
which the store has fixed by the time it hands out that number (a retry is created with
both attributes in one write), so workers sharing a study never take the same index, with
or without a lock.

Stores written by earlier versions have no such attribute: a trial there evaluated the point
of its own number, and a retry the point of the trial it repeated (Optuna's
``failed_trial``). Those retries are not counted, so a resumed earlier store goes on past
its last number and never repeats one of its points.
"""

from __future__ import annotations

from collections.abc import Iterable

import optuna
from optuna.trial import FrozenTrial

from orchestrator.store.record import TrialSystemAttr

RETRY_OF = "failed_trial"  # Optuna's system attribute on a retry: the trial it repeats


def point_index(trial: FrozenTrial) -> int:
    """The index of the point ``trial`` evaluates (see the module docstring)."""
    recorded = trial.system_attrs.get(TrialSystemAttr.POINT_INDEX)
    if isinstance(recorded, int):
        return recorded
    retried = trial.system_attrs.get(RETRY_OF)
    return retried if isinstance(retried, int) else trial.number


def is_indexed_retry(trial: FrozenTrial) -> bool:
    """A retry that took a trial number but no new point: it repeats an indexed point."""
    return RETRY_OF in trial.system_attrs and TrialSystemAttr.POINT_INDEX in trial.system_attrs


def next_point_index(trials: Iterable[FrozenTrial], number: int) -> int:
    """The index of a fresh trial numbered ``number``: its number less the retries before it."""
    return number - sum(1 for t in trials if t.number < number and is_indexed_retry(t))


def assign_point_index(study: optuna.Study, trial: FrozenTrial) -> int:
    """Give a fresh trial the next unused index, before any of its parameters is sampled.

    Called from the sampler's ``before_trial``, inside ``study.ask()``. A retry keeps the
    index it copied; a retry written by an earlier version (``failed_trial``, no index)
    keeps the point it repeats (:func:`point_index`). Returns the index, which the sampler
    keeps for the trial: reading a running trial's system attributes back costs a store
    read per parameter.
    """
    attrs = trial.system_attrs
    if TrialSystemAttr.POINT_INDEX in attrs or RETRY_OF in attrs:
        return point_index(trial)
    storage = study._storage
    trials = storage.get_all_trials(study._study_id, deepcopy=False)
    index = next_point_index(trials, trial.number)
    if index != trial.number:  # with no retry before it, its number is its index
        storage.set_trial_system_attr(trial._trial_id, TrialSystemAttr.POINT_INDEX, index)
        attrs[TrialSystemAttr.POINT_INDEX] = index
    return index
