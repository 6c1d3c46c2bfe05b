"""The noise of a study's objective values as measured, the one quoted beside a value.

A number written ``0.25 +- x`` tells the reader how far the value would move if the same
configuration were trained again. Only a measurement says that (issue 25: a fit's misfit,
or the spread of the top trials of a sweep over five decades of learning rate, was quoted
as the noise of the best value). Measured here, and combined as the larger:

- **sampling noise** of an error or accuracy (a proportion ``p`` measured on ``n``
  validation examples): ``sqrt(p (1 - p) / n)``. ``n`` is the study's ``val_examples``
  (the built-in data set's ``data.val_size``; an own trainer reports it as
  ``final(val_examples=...)`` or returns it);
- **repeats**: complete trials of the same configuration (a grid point tried twice, a
  config rerun with another recorded seed): the pooled standard deviation within them;
- **seed reruns**: promotion's per-seed values of the candidate (and of the incumbent it
  was paired with), for the candidate's study, once there is a decision.

When repeats or reruns exist and every one gave the same value, the objective is
**deterministic** (noise 0). Otherwise the noise is **not measured**, and the reader is
told how to measure it rather than shown a number that is not one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from orchestrator.analysis.curve_series import binomial_noise, proportion_name
from orchestrator.analysis.model import StudyRecord
from orchestrator.store.decision_record import DecisionRecord

# A spread this small next to the values' own size is rounding, not noise.
IDENTICAL = 1e-9
HOW_TO_MEASURE = "seed reruns measure it (stage=promote, or repeat a config)"


@dataclass(frozen=True)
class Noise:
    """A measured noise (``value``: None when nothing measured it) and what measured it."""

    value: float | None
    source: str

    @property
    def deterministic(self) -> bool:
        return self.value == 0.0

    def quoted(self) -> str:
        """``+- 0.0125 (sampling noise on 1000 examples)``, ``+- 0 (deterministic: ...)``, or
        ``(noise not measured: ...)``: what the answer writes after a value."""
        if self.value is None:
            return f"(noise {self.source})"
        number = "0" if self.value == 0.0 else f"{self.value:.3g}"
        return f"+- {number} ({self.source})"


def is_proportion(metric: str, value: float) -> bool:
    """An error rate or accuracy (by its name), with a value that is a proportion."""
    return proportion_name(metric) and 0.0 <= value <= 1.0


def proportion_noise(metric: str, value: float, examples: int | None) -> float | None:
    """The binomial sampling noise of ``value`` measured on ``examples``, when it applies."""
    if not examples or examples < 1 or not is_proportion(metric, value):
        return None
    return binomial_noise(value, examples)


def repeated_groups(study: StudyRecord) -> list[list[float]]:
    """The complete trials' values grouped by configuration, the groups of two or more."""
    groups: dict[str, list[float]] = defaultdict(list)
    for t in study.complete():
        if t.value is not None and np.isfinite(t.value):
            groups[repr(sorted(t.params.items()))].append(float(t.value))
    return [g for g in groups.values() if len(g) >= 2]


def _rerun_groups(study: StudyRecord, decision: DecisionRecord | None) -> list[list[float]]:
    """Promotion's per-seed values, when this study holds the candidate."""
    if decision is None or decision.candidate_study != study.name:
        return []
    sides = (decision.candidate_values, decision.incumbent_values)
    return [[float(v) for v in side] for side in sides if len(side) >= 2]


def pooled_spread(groups: list[list[float]]) -> float:
    """The pooled standard deviation within the groups (0 when every group is constant,
    up to rounding relative to the values' size)."""
    squares = sum(float(np.sum((np.asarray(g) - np.mean(g)) ** 2)) for g in groups)
    dof = sum(len(g) - 1 for g in groups)
    spread = float(np.sqrt(squares / dof))
    scale = max(float(np.max(np.abs(np.concatenate(groups)))), 1e-300)
    return 0.0 if spread <= IDENTICAL * scale else spread


def measured_noise(study: StudyRecord, decision: DecisionRecord | None = None) -> Noise:
    """The noise of the study's values as measured (module docstring): the larger of the
    sampling noise and the spread of repeats and seed reruns; "deterministic" (0) when
    repeats or reruns exist and agree exactly and no sampling noise applies."""
    estimates: list[tuple[float, str]] = []
    values = [float(t.value) for t in study.ranked()[:1] if t.value is not None]
    sampling = proportion_noise(study.metric, values[0], study.val_examples) if values else None
    if sampling is not None:
        estimates.append((sampling, f"sampling noise on {study.val_examples} examples"))
    repeats, reruns = repeated_groups(study), _rerun_groups(study, decision)
    if repeats or reruns:
        spread = pooled_spread(repeats + reruns)
        what = " and ".join(
            part
            for part, groups in (
                (f"{len(repeats)} repeated config{'s' * (len(repeats) > 1)}", repeats),
                (f"{sum(map(len, reruns))} seed reruns", reruns),
            )
            if groups
        )
        if spread == 0.0:
            estimates.append((0.0, f"deterministic: {what} gave identical values"))
        else:
            estimates.append((spread, f"spread of {what}"))
    if not estimates:
        return Noise(None, f"not measured: no repeated config or seed rerun; {HOW_TO_MEASURE}")
    return Noise(*max(estimates))
