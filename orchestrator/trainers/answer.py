"""A trainer's answer as a ``TrainResult``, the same for every kind.

The answer may be a ``TrainResult`` (or the same as a dict with ``status``), a number (the
objective), a dict of metrics holding the objective's, the pair ``(objective, {metrics})``,
or ``None`` (the best reported value of the objective's metric); a child's answer is what
it printed or wrote with ``trial_report.final``. A run that reported a non-finite
objective or loss is diverged, whatever it answered: a value from before the NaN is no
result of the run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.exceptions import TrainerContractError
from orchestrator.train.result import Status, TrainResult, as_train_result
from orchestrator.trainers.reports import Reports, real_number

if TYPE_CHECKING:
    from orchestrator.config.experiment import Experiment


def build_result(
    returned: Any,
    reports: Reports,
    experiment: Experiment,
    finals: Mapping[str, float] | None = None,
) -> TrainResult:
    """The trainer's answer as a ``TrainResult`` (its own, or built from the reports).
    ``finals``: what it gave ``trial_report.final(...)``; a returned value wins over it."""
    if isinstance(returned, TrainResult) or (
        isinstance(returned, Mapping) and "status" in returned
    ):
        result = as_train_result(dict(returned) if isinstance(returned, Mapping) else returned)
        return _diverged_if_broken(result, reports)
    final: dict[str, float] = dict(finals or {})
    objective = _returned_objective(returned, reports.metric, final)
    objective = _objective_or_best(objective, reports, final)
    steps = max(reports.steps, default=0)
    for name, by_step in reports.values.items():
        last_value = by_step[max(by_step)] if by_step else None
        if name not in final and last_value is not None:
            final[name] = last_value
    common: dict[str, Any] = dict(
        metric=reports.metric,
        direction=experiment.direction,
        steps=steps,
        max_steps=experiment.length() or steps,
        final=final,
        curves=reports.curves(),
        seed=seed_of(experiment),
    )
    broken = reports.divergence()
    if broken is not None:
        return _diverged(broken[0], broken[1], common)
    if not math.isfinite(objective):
        reason = f"the objective {reports.metric} is {objective}"
        return _diverged(steps or None, reason, common)
    status: Status = "stopped" if reports.stopped else "completed"
    best_step = reports.best()[1]
    return TrainResult(status=status, objective=objective, best_step=best_step, **common)


def _returned_objective(returned: Any, metric: str, final: dict[str, float]) -> float | None:
    """The objective the returned value gives (a dict's numbers join ``final``); a
    TrainerContractError for an answer of no documented shape."""
    if isinstance(returned, Mapping):
        numbers = ((str(k), real_number(v)) for k, v in returned.items())
        final.update({k: v for k, v in numbers if v is not None})
        return final.get(metric)
    if isinstance(returned, tuple):
        return _pair_objective(returned, metric, final)
    number = real_number(returned)
    if number is not None:
        return number
    if returned is None:
        return final.get(metric)
    raise TrainerContractError(
        f"the trainer returned {type(returned).__name__}; return a number (the objective),"
        " a dict of metrics, (objective, {metrics}), a TrainResult, or None (the best"
        " reported value)"
    )


def _pair_objective(returned: tuple[Any, ...], metric: str, final: dict[str, float]) -> float:
    """``return val_loss, {"acc": acc}``: the first the objective, the dict's numbers join
    ``final``. Other tuples (``return loss, acc``) do not say which number is the objective
    (taking the first would store a wrong value quietly): one error naming what to return."""
    if len(returned) == 2 and isinstance(returned[1], Mapping):
        objective = real_number(returned[0])
        if objective is not None:
            _returned_objective(returned[1], metric, final)
            return objective
    kinds = ", ".join(type(v).__name__ for v in returned)
    raise TrainerContractError(
        f"the trainer returned a tuple ({kinds}), which does not say which value is the "
        f"objective {metric}; return the objective and the other metrics by name "
        f'(return {metric}, {{"acc": acc}}), a dict of metrics ({{"{metric}": ..., "acc": '
        "...}), or the objective alone"
    )


def _objective_or_best(
    objective: float | None, reports: Reports, final: Mapping[str, float]
) -> float:
    """The objective, else the best reported value (NaN when it was reported, never
    finite); a TrainerContractError when the objective's metric was never given."""
    metric = reports.metric
    best_value = reports.best()[0]
    if objective is None and metric in reports.values and best_value is None:
        objective = math.nan  # reported, never finite: the run diverged
    if objective is None:
        objective = best_value
    # A trainer that reports, but never the objective's metric, names it otherwise (a typo in
    # objective.metric, or the wrong metric): its returned number would be stored misnamed.
    reports_others = bool(reports.values) and metric not in reports.values
    if objective is None or (reports_others and metric not in final):
        seen = sorted(set(reports.values) | set(final)) or ["nothing"]
        raise TrainerContractError(
            f"the trainer never reported the objective's metric {metric!r} (it reported: "
            f"{', '.join(seen)}); report it, report(step, {metric}=value), or return it, or set"
            f" objective.metric to one it reports"
        )
    return objective


def _diverged(step: int | None, reason: str, common: Mapping[str, Any]) -> TrainResult:
    return TrainResult(
        status="diverged",
        objective=None,
        best_step=None,
        diverged_step=step,
        divergence_reason=reason,
        **common,
    )


def _diverged_if_broken(result: TrainResult, reports: Reports) -> TrainResult:
    """A trainer's own result, diverged when it reported a non-finite objective or loss
    (a value from before the NaN is no result of the run: it broke)."""
    broken = reports.divergence()
    if broken is None or result.diverged:
        return result
    step, reason = broken
    return dataclasses.replace(
        result,
        status="diverged",
        objective=None,
        best_step=None,
        diverged_step=step,
        divergence_reason=reason,
    )


def seed_of(experiment: Experiment) -> int | None:
    """The run's seed: the integer under its seed key, if it has one."""
    value = experiment.get(experiment.seed_key) if experiment.seed_key else None
    return value if isinstance(value, int) else None
