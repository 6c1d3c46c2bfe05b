"""The learning-rate sweep (the seeds' first stage): which rate trains fastest and deepest,
and for how many steps.

The method starts by looking at curves: train at rates on an exponential grid (1, 0.1,
..., 1e-5, denser where the best is likely), keep the curve that falls fastest and
deepest, and read off the step where it has nearly converged, plus a margin, as the step
budget. A sweep round is one study over one numeric nuisance param sampled on a grid
(``budget.sampler: grid``). Pure: studies in, a ``sweep`` finding out, whose suggestion
the next-round draft turns into a denser grid around the choice and the step budget.

- **Fastest and deepest**: the lowest mean of the training loss over the whole run (the
  area under the curve per step): a curve that falls early *and* ends low has the least
  area; one that falls late, or stops high, has more. Diverged (infeasible) trials take
  no part.
- **Nearly converged**: the first step where the smoothed training loss (moving mean over
  a twentieth of training) is within ``CONVERGED`` (5%) of its total fall from its final
  level; the budget is that step times ``1 + MARGIN`` (25%), rounded up to ten steps. A
  curve still falling over its last tenth gets twice its length instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.analysis.curve_series import step_series
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.outcomes import fmt
from orchestrator.analysis.round_checks import LENGTH_KEY
from orchestrator.analysis.search_space import is_integer_spec, is_number, is_range
from orchestrator.store.findings import Finding, Kind, Severity

CONVERGED = 0.05  # within 5% of the total fall: nearly converged
MARGIN = 0.25  # the step budget's margin beyond that step
MIN_CURVE = 10  # per-step losses a curve needs to be judged


@dataclass(frozen=True)
class SweepChoice:
    """The rate a sweep chose, why, and the step budget read off its curve."""

    param: str
    value: float
    trial: int
    area: float  # mean training loss over the run
    converged_step: int | None  # None: still falling at the end, or never fell
    budget: int | None  # None: the curve never fell, so it says nothing about the length
    length: int  # steps the sweep trained
    ranking: list[tuple[float, float]]  # (value, area) of every judged trial, best first
    diverged: list[float]  # the values whose trials diverged


def sweep_param(study: StudyRecord) -> str | None:
    """The swept param of a sweep study: grid sampling of one nuisance param on a log float
    range (a rate on an exponential grid; an integer, a choice or a linear range is no
    learning-rate sweep, and "least training loss" would misjudge a regulariser)."""
    if study.sampler != "grid" or len(study.search_space) != 1:
        return None
    ((param, alternatives),) = study.search_space.items()
    spec = alternatives[0] if len(alternatives) == 1 else {}
    if not (is_range(spec) and spec.get("log") and not is_integer_spec(spec)):
        return None
    return param


def _area(trial: TrialRecord) -> float | None:
    steps, loss = step_series(trial.curves or {}, "train_loss")
    if len(loss) < MIN_CURVE:
        return None
    return float(loss.mean())


def converged_step(trial: TrialRecord) -> tuple[int | None, int]:
    """(the first step the smoothed loss is within ``CONVERGED`` of its fall, or None when
    it is still falling over the last tenth; the steps trained)."""
    steps, loss = step_series(trial.curves or {}, "train_loss")
    n = int(steps[-1]) if len(steps) else 0
    width = max(1, len(loss) // 20)
    smooth = np.convolve(loss, np.ones(width) / width, mode="valid")
    start, end = float(smooth[0]), float(smooth[-1])
    fall = start - end
    if fall <= 0:
        return None, n
    tail = smooth[int(0.9 * len(smooth)) :]
    if len(tail) >= 2 and float(tail[0] - tail[-1]) > CONVERGED * fall:
        return None, n  # still falling by more than 5% of its fall in the last tenth
    within = np.nonzero(smooth - end <= CONVERGED * fall)[0]
    index = int(within[0]) + width // 2  # the window's middle step
    return int(steps[min(index, len(steps) - 1)]), n


def _fell(trial: TrialRecord) -> bool:
    """Whether the smoothed training loss ended below where it started."""
    _, loss = step_series(trial.curves or {}, "train_loss")
    width = max(1, len(loss) // 20)
    return len(loss) >= MIN_CURVE and float(loss[:width].mean()) > float(loss[-width:].mean())


def sweep_choice(study: StudyRecord) -> SweepChoice | None:
    """The sweep's choice, or None when the study is no sweep or no trial has a curve."""
    param = sweep_param(study)
    if param is None:
        return None
    judged = []
    for t in study.complete():
        area = _area(t)
        if area is not None and is_number(t.params.get(param)) and math.isfinite(area):
            judged.append((area, float(t.params[param]), t))
    if not judged:
        return None
    judged.sort(key=lambda a: a[0])
    area, value, best = judged[0]
    step, length = converged_step(best)
    fell = _fell(best)
    if not fell:
        budget: int | None = None
    elif step is None:
        budget = 2 * length
    else:
        budget = int(math.ceil(step * (1 + MARGIN) / 10.0) * 10)
    diverged = sorted(
        float(t.params[param])
        for t in study.trials
        if t.state == "infeasible" and is_number(t.params.get(param))
    )
    ranking = [(v, a) for a, v, _ in judged]
    return SweepChoice(param, value, best.number, area, step, budget, length, ranking, diverged)


def densified(choice: float, low: float, high: float) -> list[float]:
    """A finer grid around ``choice`` (a third of a decade either way, and half-steps),
    inside ``[low, high]``, three significant digits."""
    factors = (1 / 3, 1 / 2, 1.0, 2.0, 3.0)
    values = {float(f"{choice * f:.3g}") for f in factors}
    return sorted(v for v in values if low <= v <= high)


def sweep_findings(studies: list[StudyRecord]) -> list[Finding]:
    """One ``sweep`` info per sweep study: the chosen rate and step budget, with the reason."""
    out = []
    for study in studies:
        c = sweep_choice(study)
        if c is None:
            continue
        spec = study.search_space[c.param][0]
        runner = ""
        if len(c.ranking) > 1:
            runner = f"; next {fmt(c.ranking[1][0])} ({fmt(c.ranking[1][1])})"
        if c.budget is None:
            where = "but its training loss never fell: no step budget can be read off it"
        elif c.converged_step is not None:
            where = (
                f"its smoothed training loss is within {CONVERGED:.0%} of its fall by step "
                f"{c.converged_step} of {c.length}, so {c.budget} steps with a "
                f"{MARGIN:.0%} margin"
            )
        else:
            where = (
                f"its training loss was still falling at step {c.length}, so twice that: "
                f"{c.budget} steps"
            )
        ranked_values = sorted(v for v, _ in c.ranking)
        if c.value in (ranked_values[0], ranked_values[-1]) and len(ranked_values) > 2:
            where += "; the choice is the grid's edge, so the best rate may lie beyond it"
        diverged = f"; diverged: {', '.join(map(fmt, c.diverged))}" if c.diverged else ""
        message = (
            f"Sweep of {c.param}: {fmt(c.value)} (trial {c.trial}) trains fastest and deepest "
            f"(mean training loss {fmt(c.area)}{runner}{diverged}); {where}."
        )
        low, high = float(spec.get("low", 0.0)), float(spec.get("high", math.inf))
        grid = densified(c.value, low, high)
        suggestion: dict[str, Any] = {c.param: c.value, "grid": grid}
        if c.budget is not None:
            suggestion[LENGTH_KEY] = c.budget
        out.append(Finding(Kind.SWEEP, Severity.INFO, message, study.name, c.param, suggestion))
    return out
