"""Planted-truth failures for the ``failed`` check's recall and false alarms.

A study like a user's first round: 15 trials (scrambled Sobol) over a log learning rate
and a categorical activation of three values. What fails is planted, each case a pure
function of its seed: every trial at one activation (``KeyError: 'swish'``), every trial
above a learning rate (an out-of-memory at one end of the range), or a flaky error that
strikes any trial at a given rate, whatever its values.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import qmc

from orchestrator.analysis.model import StudyRecord, TrialRecord

ACTS = ["relu", "tanh", "swish"]
SPACE = {
    "lr": [{"low": 1e-3, "high": 1.0, "log": True}],
    "act": [{"choices": ACTS}],
}
FLAKY = "OSError: [Errno 104] Connection reset by peer"


def failing_study(
    seed: int,
    *,
    trials: int = 15,
    bad_act: str | None = None,
    fail_above: float | None = None,
    flaky: float = 0.0,
) -> StudyRecord:
    """``bad_act``: every trial at it raises ``KeyError``; ``fail_above``: every trial whose
    learning rate lies above this position of its range runs out of memory; ``flaky``: the
    chance that any other trial fails with a connection error."""
    rng = np.random.default_rng(20_000 + seed)
    u = qmc.Sobol(2, scramble=True, seed=seed).random(trials)
    records = []
    for i, (x, y) in enumerate(u):
        params = {"lr": float(10 ** (-3 + 3 * x)), "act": ACTS[min(int(y * 3), 2)]}
        error = None
        if bad_act is not None and params["act"] == bad_act:
            error = f"KeyError: {bad_act!r}"
        elif fail_above is not None and x > fail_above:
            error = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n(details)"
        elif rng.random() < flaky:
            error = FLAKY
        value = None if error else float(0.1 + (x - 0.5) ** 2 + 0.02 * rng.standard_normal())
        state = "failed" if error else "complete"
        records.append(TrialRecord(i, state, value, params, error=error))
    return StudyRecord("r/failing", {}, "minimize", "val_error", SPACE, records)


def lr_at(position: float) -> float:
    return float(10 ** (-3 + 3 * position))


def within(value: float, low: float, high: float) -> bool:
    return math.isfinite(value) and low <= value <= high
