"""A trial failed by its trainer is retried once, with its point.

A failure can be the point's fault (a learning rate that crashes the code) or the moment's
(a neighbour's job took the GPU's memory, a file system hiccup). Retried once with the
same parameters and point index (``rounds/point_index.py``), a passing fault costs no point:
the study evaluates the same points as a run without it, so every study of the round still
gets the same nuisance points. A point that fails twice is left, and counts twice toward
``budget.max_failures``. The retry is queued while the failed trial is still RUNNING, so no
other worker sees a free slot in between and starts a fresh point instead.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna

from orchestrator.work.liveness import retry_once
from orchestrator.work.objective import TrialRun


def retrying(
    objective: Callable[[optuna.Trial], float], study: optuna.Study, run: TrialRun
) -> Callable[[optuna.Trial], float]:
    """``objective``, queueing one retry of a trial its trainer failed (not of a trial a
    stop signal interrupted: the worker loop queues that one, however often it happens)."""

    def call(trial: optuna.Trial) -> float:
        try:
            return objective(trial)
        except Exception:
            if run.outcome is not None and run.outcome.kind == "failed":
                retry_once(study, study._storage.get_trial(trial._trial_id))
            raise

    return call
