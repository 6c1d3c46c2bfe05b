"""Report a trial's metrics to the tuning-round orchestrator: ``report(step, **metrics)``.

Standard library only, so any script or Hydra app can import it without torch or the
orchestrator's dependencies: a command trainer's child finds it as ``trial_report`` (the
orchestrator puts this folder on its ``PYTHONPATH``), and a Hydra app called in the
worker's own process gets the same module (``sys.modules`` holds it under that name).

    from trial_report import report, final

    for epoch in range(1, epochs + 1):
        ...
        if report(epoch, val_accuracy=acc, train_loss=loss):
            break                      # the orchestrator asks this trial to stop
    final(val_accuracy=best_acc)       # optional: the trial's answer (else the best reported)

Outside the orchestrator both are no-ops (``report`` returns False), so the script runs
as before by hand. A script that cannot import this file may print the same JSON lines
itself: ``{"step": 3, "val_accuracy": 0.91}`` per report, and one line without ``step``
for the final metrics.
"""

from __future__ import annotations

import json
import math
import operator
import os
from collections.abc import Callable, Mapping

METRICS_ENV = "ORCHESTRATOR_METRICS"  # the JSON-lines file a command trainer's child writes
STOP_ENV = "ORCHESTRATOR_STOP"  # exists once the orchestrator asks the trial to stop

# Set by the orchestrator while it runs a trainer in this process (a Hydra app called in
# the worker): reports go straight to the trial, no file in between.
sink: Callable[..., bool] | None = None
final_sink: Callable[..., None] | None = None


def report(step: int, **metrics: float) -> bool:
    """Record ``metrics`` at ``step`` (an int >= 1); True when the trial should stop now."""
    if sink is not None:
        return sink(step, **metrics)
    path = os.environ.get(METRICS_ENV)
    if not path:
        return False
    _append(path, {"step": _step(step), **_numbers(metrics)})
    stop = os.environ.get(STOP_ENV)
    return stop is not None and os.path.exists(stop)


def final(**metrics: float) -> None:
    """The trial's final metrics (the objective's among them); optional."""
    if final_sink is not None:
        final_sink(**metrics)
        return
    path = os.environ.get(METRICS_ENV)
    if path:
        _append(path, _numbers(metrics))


def _step(step: int) -> int:
    """The same rule as in the orchestrator's own process: an int (numpy's too) >= 1."""
    try:
        value = operator.index(step) if not isinstance(step, bool) else -1
    except TypeError:
        value = -1
    if value < 1:
        raise ValueError(f"report(step, ...): step must be an int >= 1; got {step!r}")
    return value


def _numbers(metrics: dict[str, float]) -> dict[str, float | str]:
    """Plain floats (numpy and torch scalars too); JSON has no NaN, so non-finite as text."""
    out: dict[str, float | str] = {}
    for name, value in metrics.items():
        if isinstance(value, bool | str | bytes):
            raise TypeError(f"{name}={value!r}: metrics must be numbers")
        number = float(value)
        out[name] = number if math.isfinite(number) else str(number)
    return out


def _append(path: str, record: Mapping[str, object]) -> None:
    """One line per call, flushed at once: the orchestrator reads while the run goes on."""
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
