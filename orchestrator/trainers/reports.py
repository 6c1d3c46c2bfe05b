"""The one channel a trainer reports through, whatever its kind: ``Reports``.

A trainer reports ``report(step, **metrics)`` (the hook a function asks for by name),
``on_eval(step, metrics)`` (the built-in ``fit``'s callback), ``trial_report.report`` and
``final`` from its own code (routed here in this process by ``reporting_to``; a child's
are read from its metrics file and stdout), and each report becomes curves, Optuna's
intermediate value of the objective (``on_value``, which answers "stop now?") and, for a
non-finite objective or loss, the step at which the run broke.
"""

from __future__ import annotations

import math
import numbers
import operator
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.child import trial_report
from orchestrator.exceptions import TrainerContractError
from orchestrator.train.result import Curves, finite_or_none

if TYPE_CHECKING:
    from orchestrator.config.experiment import Experiment

# Per-step curves of the built-in trainer; a reported metric of these names lands there.
STEP_CURVES = ("train_loss", "lr", "grad_norm")
EVAL_CURVES = ("val_loss", "val_error")
# The curves a non-finite value of makes the run diverged, as the built-in ``fit`` does
# (a NaN training or validation loss): the model's numbers broke, whatever came after.
BROKEN_IF_NON_FINITE = ("train_loss", "val_loss", "val_error")

OnValue = Callable[[int, float], bool]  # the objective metric at a step -> stop now?


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
        roles = {name: role for role, name in experiment.trainer_settings.curves}
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
        numbers = metric_numbers(f"report({step}", metrics)
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
        finals.update(metric_numbers("final(", metrics))

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


def _step(value: Any) -> int:
    """``value`` as a step (ints, numpy integers), or -1 when it is no integer (or a bool)."""
    if isinstance(value, bool):
        return -1
    try:
        return operator.index(value)
    except TypeError:
        return -1


def metric_numbers(call: str, metrics: Mapping[str, Any]) -> dict[str, float]:
    """``metrics`` as floats; a TrainerContractError naming ``call`` and the metric that is
    not a number."""
    out: dict[str, float] = {}
    for name, raw in metrics.items():
        value = real_number(raw)
        if value is None:
            sep = ", " if not call.endswith("(") else ""
            raise TrainerContractError(
                f"{call}{sep}{name}=...): metrics must be numbers; got {raw!r}"
            )
        out[name] = value
    return out


def real_number(value: Any) -> float | None:
    """``value`` as a float when it is a real number (numpy's and torch's scalars and 0-d
    arrays and tensors included), else None (a bool is no number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        return real_number(value.item())
    return None
