"""The trainer's door: what a trainer is given, and what its answer becomes.

A trainer is any function whose first parameter takes the trial's config: the built-in
``ExperimentConfig`` for the built-in experiment, the user's own keys as an OmegaConf
``DictConfig`` otherwise (attribute and item access, ``OmegaConf.to_container`` for a
dict). Besides the config it receives only what it asks for, by these documented names:

- ``report``: ``report(step, **metrics) -> bool``, the hook. Each call records the metrics
  at ``step`` (curves, and the objective metric as Optuna's intermediate value) and returns
  whether to stop now (the hook pruning uses).
- ``on_eval``: ``on_eval(step, metrics) -> bool``, the built-in ``fit``'s callback.
- ``data``, ``cache``: the built-in experiment's loaded data set and the training library's
  cache (built-in experiment only: an own config loads its own data).

A parameter of any other name without a default is refused when the trainer is resolved,
so nothing is passed by accident. The answer may be a ``TrainResult`` (or the same as a
dict with ``status``), a number (the objective), a dict of metrics holding the objective's,
or ``None`` (the best reported value of the objective's metric).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import operator
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from orchestrator.child import trial_report
from orchestrator.config.experiment import Experiment
from orchestrator.config.trainer import Trainer, resolve_trainer
from orchestrator.exceptions import ConfigError, TrainerContractError
from orchestrator.train.result import (
    Curves,
    Status,
    TrainResult,
    as_train_result,
    finite_or_none,
)

HOOKS = ("report", "on_eval")
BUILTIN_ONLY = ("data", "cache")
# Per-step curves of the built-in trainer; a reported metric of these names lands there.
STEP_CURVES = ("train_loss", "lr", "grad_norm")
EVAL_CURVES = ("val_loss", "val_error")
# The curves a non-finite value of makes the run diverged, as the built-in ``fit`` does
# (a NaN training or validation loss): the model's numbers broke, whatever came after.
BROKEN_IF_NON_FINITE = ("train_loss", "val_loss", "val_error")

OnValue = Callable[[int, float], bool]  # the objective metric at a step -> stop now?


@dataclass(frozen=True)
class TrialPlace:
    """Where one trial's own files go (a child's stdout, stderr and metrics; a Hydra app's
    output dir), and the name it is known by (``ORCHESTRATOR_TRIAL``)."""

    label: str
    dir: Path


def checked_asks(target: str, trainer: Trainer, *, builtin: bool) -> frozenset[str]:
    """The documented names ``trainer`` takes; a ConfigError for any it needs but cannot get."""
    offered = HOOKS + (BUILTIN_ONLY if builtin else ()) + ("progress",)
    params = list(inspect.signature(trainer).parameters.values())
    if not params or params[0].kind in (params[0].VAR_KEYWORD, params[0].KEYWORD_ONLY):
        raise ConfigError("trainer._target_", f"{target} must take the trial's config first")
    asks = set()
    for p in params[1:]:
        if p.kind == p.VAR_KEYWORD and builtin:
            asks.add("on_eval")  # as before: a built-in trainer taking **kwargs gets on_eval
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in offered:
            asks.add(p.name)
        elif p.default is inspect.Parameter.empty:
            why = (
                "data and cache are the built-in experiment's; your trainer loads its own data"
                if p.name in BUILTIN_ONLY
                else "it passes only: the config (first), then any of " + ", ".join(offered)
            )
            raise ConfigError(
                "trainer._target_",
                f"{target} needs a parameter {p.name!r} the orchestrator does not pass ({why});"
                " give it a default or drop it",
            )
    return frozenset(asks)


def trainer_for(target: str, experiment: Experiment) -> tuple[Trainer, frozenset[str]]:
    """Resolve ``target`` and check what it asks for against this experiment."""
    trainer = resolve_trainer(target)
    return trainer, checked_asks(target, trainer, builtin=experiment.builtin)


def config_for(experiment: Experiment) -> Any:
    """The trial's config as the trainer takes it."""
    if experiment.builtin:
        return experiment.as_builtin()
    return OmegaConf.create(dict(experiment.tree))


@dataclass
class Reports:
    """Everything a trainer reported in one run, as curves, and the stop answer."""

    metric: str
    maximize: bool
    on_value: OnValue | None = None
    steps: list[int] = field(default_factory=list)
    values: dict[str, dict[int, float | None]] = field(default_factory=dict)
    stopped: bool = False  # the hook answered "stop"
    echo: Callable[[int, Mapping[str, float]], None] | None = None  # e.g. a log line per report
    roles: Mapping[str, str] = field(default_factory=dict)  # your metric -> the curve it is
    # The first non-finite report of the objective or a loss curve: (step, metric, value).
    broken: tuple[int, str, float] | None = None

    @classmethod
    def of(
        cls,
        experiment: Experiment,
        on_value: OnValue | None = None,
        echo: Callable[[int, Mapping[str, float]], None] | None = None,
    ) -> Reports:
        """The reports of one run of ``experiment`` (its metric, direction, curve names)."""
        roles = {name: role for role, name in experiment.how.curves}
        return cls(experiment.metric, experiment.direction == "maximize", on_value,
                   echo=echo, roles=roles)  # fmt: skip

    def report(self, step: int, **metrics: float) -> bool:
        """Record ``metrics`` at ``step``; True when the trainer should stop now."""
        if _step(step) < 1:
            raise TrainerContractError(
                f"report(step, ...): step must be an int >= 1 (steps and epochs count from 1);"
                f" got {step!r}"
            )
        step = _step(step)
        if step not in self.steps:
            self.steps.append(step)
        numbers = _metric_numbers(f"report({step}", metrics)
        for name, number in numbers.items():
            self.values.setdefault(name, {})[step] = finite_or_none(number)
            if self.broken is None and not math.isfinite(number) and self._watched(name):
                self.broken = (step, name, number)
        if self.echo is not None:
            self.echo(step, numbers)
        if self.broken is not None:
            return True  # diverged: nothing after it can make the run count (build_result)
        value = self.values[self.metric][step] if self.metric in metrics else None
        if value is None or self.on_value is None:
            return False
        self.stopped = self.on_value(step, value)
        return self.stopped

    def _watched(self, name: str) -> bool:
        """Whether a non-finite ``name`` means the run diverged: the objective, a loss."""
        return name == self.metric or self.roles.get(name, name) in BROKEN_IF_NON_FINITE

    def divergence(self) -> tuple[int, str] | None:
        """(the step, the reason) of the first non-finite objective or loss reported."""
        if self.broken is None:
            return None
        step, name, value = self.broken
        return step, f"non-finite {name} ({value}) reported at step {step}"

    def on_eval(self, step: int, metrics: Mapping[str, float]) -> bool:
        """The built-in ``fit``'s callback: every evaluation must carry the objective."""
        if self.metric not in metrics:
            raise TrainerContractError(f"on_eval got no {self.metric!r} in {sorted(metrics)}")
        return self.report(step, **metrics)

    def best(self) -> tuple[float | None, int | None]:
        """The best finite reported value of the objective's metric and its step."""
        series = [(v, s) for s, v in self.values.get(self.metric, {}).items() if v is not None]
        if not series:
            return None, None
        pick = max if self.maximize else min
        value, step = pick(series, key=lambda pair: pair[0])
        return value, step

    def curves(self) -> Curves:
        """The reports as the stored curves: per-step curves indexed by step, the rest by
        report step (``None`` where a report did not carry the metric)."""
        order = sorted(self.steps)
        curves = Curves(eval_step=order)
        last = order[-1] if order else 0
        for name, by_step in self.values.items():
            role = self.roles.get(name, name)  # trainer.curves: {train_loss: train/loss}
            if role in STEP_CURVES:
                setattr(curves, role, [by_step.get(k) for k in range(1, last + 1)])
            elif role in EVAL_CURVES:
                setattr(curves, role, [by_step.get(s) for s in order])
            else:
                curves.metrics[name] = [by_step.get(s) for s in order]
        return curves


@contextmanager
def reporting_to(reports: Reports) -> Iterator[dict[str, float]]:
    """``trial_report.report``/``final`` called in this process go to ``reports``; yields
    the final metrics ``final(...)`` gave."""
    finals: dict[str, float] = {}

    def keep_final(**metrics: float) -> None:
        finals.update(_metric_numbers("final(", metrics))

    # The helper may be loaded twice (as ``trial_report`` from the path before the alias
    # below was set, and as ``orchestrator.child.trial_report``): route both.
    loaded = (trial_report, sys.modules.get("trial_report"))
    helpers: dict[int, Any] = {id(m): m for m in loaded if m is not None}
    saved = {key: (m.sink, m.final_sink) for key, m in helpers.items()}
    for helper in helpers.values():
        helper.sink, helper.final_sink = reports.report, keep_final
    try:
        yield finals
    finally:
        for key, helper in helpers.items():
            helper.sink, helper.final_sink = saved[key]


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
    metric = reports.metric
    final: dict[str, float] = dict(finals or {})
    if isinstance(returned, Mapping):
        final.update(
            {str(k): v for k, v in ((k, _real(v)) for k, v in returned.items()) if v is not None}
        )
        objective = final.get(metric)
    elif _real(returned) is not None:
        objective = _real(returned)
    elif returned is None:
        objective = final.get(metric)
    else:
        raise TrainerContractError(
            f"the trainer returned {type(returned).__name__}; return a number (the objective),"
            " a dict of metrics, a TrainResult, or None (the best reported value)"
        )
    best_value, best_step = reports.best()
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
    steps = max(reports.steps, default=0)
    for name, by_step in reports.values.items():
        last_value = by_step[max(by_step)] if by_step else None
        if name not in final and last_value is not None:
            final[name] = last_value
    common: dict[str, Any] = dict(
        metric=metric,
        direction=experiment.direction,
        steps=steps,
        max_steps=experiment.length() or steps,
        final=final,
        curves=reports.curves(),
        seed=seed_of(experiment),
    )
    broken = reports.divergence()
    if broken is not None:
        return TrainResult(
            status="diverged",
            objective=None,
            best_step=None,
            diverged_step=broken[0],
            divergence_reason=broken[1],
            **common,
        )
    if not math.isfinite(objective):
        return TrainResult(
            status="diverged",
            objective=None,
            best_step=None,
            diverged_step=steps or None,
            divergence_reason=f"the objective {metric} is {objective}",
            **common,
        )
    status: Status = "stopped" if reports.stopped else "completed"
    return TrainResult(status=status, objective=objective, best_step=best_step, **common)


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


def _step(value: Any) -> int:
    """``value`` as a step (ints, numpy integers), or -1 when it is no integer (or a bool)."""
    if isinstance(value, bool):
        return -1
    try:
        return operator.index(value)
    except TypeError:
        return -1


def _metric_numbers(call: str, metrics: Mapping[str, Any]) -> dict[str, float]:
    """``metrics`` as floats; a TrainerContractError naming ``call`` and the metric that is
    not a number."""
    out: dict[str, float] = {}
    for name, raw in metrics.items():
        value = _real(raw)
        if value is None:
            sep = ", " if not call.endswith("(") else ""
            raise TrainerContractError(
                f"{call}{sep}{name}=...): metrics must be numbers; got {raw!r}"
            )
        out[name] = value
    return out


def _real(value: Any) -> float | None:
    """``value`` as a float when it is a real number (numpy's and torch's scalars and 0-d
    arrays and tensors included), else None (a bool is no number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        return _real(value.item())
    return None


def seed_of(experiment: Experiment) -> int | None:
    value = experiment.get(experiment.seed_key) if experiment.seed_key else None
    return value if isinstance(value, int) else None
