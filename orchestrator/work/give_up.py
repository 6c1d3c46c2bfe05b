"""A study given up after too many failed trials: what would finish it, and a second look.

A study gets no new trial once ``budget.max_failures`` of its trials failed by their
training (interrupted ones do not count). Running the same command again used to change
nothing: the failures were still counted, so the study stayed given up and the command
printed the same line. The trainer's code is not part of the round's config, so no run
can tell beforehand whether the user fixed the error; one trial can.

So a run that finds a study given up queues its failed points that never finished again
(each with its point index, so they are the same points) and allows exactly one more
failure. If the first of them fails again, the study stays given up, and the command says
that nothing changed and what would (fix the error it names, or raise
``budget.max_failures``). If it succeeds, the trainer works now: every failure so far is
forgiven (``failures_forgiven``) and the study goes on to its budget, failed points first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from orchestrator.rounds.point_index import point_index
from orchestrator.store.record import StudyAttr, TrialAttr, trainer_error
from orchestrator.work.liveness import retry_once

_TAKEN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def forgiven(study: optuna.Study) -> int:
    """How many of the study's failures no longer count toward ``max_failures``."""
    value = study.user_attrs.get(StudyAttr.FAILURES_FORGIVEN)
    return value if isinstance(value, int) else 0


def failures(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The trials failed by their training (not interrupted from outside), by number."""
    failed = [
        t
        for t in trials
        if t.state == TrialState.FAIL and TrialAttr.INTERRUPTED not in t.user_attrs
    ]
    return sorted(failed, key=lambda t: t.number)


def lost_points(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """One failed trial per point that no trial finished, runs or waits to run."""
    taken = {point_index(t) for t in trials if t.state in _TAKEN}
    lost: dict[int, FrozenTrial] = {}
    for t in failures(trials):
        lost.setdefault(point_index(t), t)
    return [t for index, t in sorted(lost.items()) if index not in taken]


def _first_error(trial: FrozenTrial) -> str:
    error = trainer_error(trial.user_attrs.get(TrialAttr.ERROR)) or "no error recorded"
    return error.splitlines()[0][:300]


def reopen(study: optuna.Study, max_failures: int) -> str | None:
    """A given-up study: queue its lost points again, allow one more failure; the line
    that says so. None when the study is not given up."""
    trials = study.get_trials(deepcopy=False)
    failed = failures(trials)
    if len(failed) - forgiven(study) < max_failures:
        return None
    lost = lost_points(trials)
    for t in lost:
        retry_once(study, t, again=True)
    study.set_user_attr(StudyAttr.FAILURES_FORGIVEN, len(failed) - max_failures + 1)
    error = _first_error(failed[-1])
    study.set_user_attr(StudyAttr.REOPENED, {"failed": len(failed), "error": error})
    what = (
        f"retrying its failed point {point_index(lost[0])} once"
        if lost
        else "allowing one more failure"
    )
    return (
        f"{study.study_name} was given up after {len(failed)} failed trials (last: {error}); "
        f"{what}: if it succeeds the study goes on, else it stays given up"
    )


def forgive(study: optuna.Study) -> None:
    """A trial of a reopened study succeeded: the trainer works now, every failure so far
    is forgiven and the study goes on to its budget."""
    if not study.user_attrs.get(StudyAttr.REOPENED):
        return
    failed = failures(study.get_trials(deepcopy=False))
    study.set_user_attr(StudyAttr.FAILURES_FORGIVEN, len(failed))
    study.set_user_attr(StudyAttr.REOPENED, None)


def given_up(study: optuna.Study, max_failures: int) -> str | None:
    """Why the study was given up and what would make it finish; None if it was not."""
    failed = failures(study.get_trials(deepcopy=False))
    counted = failed[forgiven(study) :]
    if len(counted) < max_failures:
        return None
    errors = Counter(_first_error(t) for t in counted)
    error, times = errors.most_common(1)[0]
    numbers = ", ".join(str(t.number) for t in counted if _first_error(t) == error)
    ways = (
        "fix that error in the trainer and run the same command again (its failed points "
        "are retried first and it goes on once one succeeds), or raise "
        f"round.budget.max_failures above {max_failures} to let it try new points"
    )
    reopened = study.user_attrs.get(StudyAttr.REOPENED)
    if isinstance(reopened, dict):
        same = (
            "the same error" if reopened.get("error") == _first_error(failed[-1]) else "an error"
        )
        return (
            f"{study.study_name}: given up again: its retried point failed with {same} "
            f"({_first_error(failed[-1])}), so nothing changed since the last run and running "
            f"the same command again will not finish it. To finish it: {ways}"
        )
    return (
        f"{study.study_name}: given up after {len(counted)} failed trials "
        f"(round.budget.max_failures={max_failures}); the trainer raised {error} in {times} "
        f"of them (trials {numbers}). To finish it: {ways}"
    )
