"""Reading a round's search-space specs, shared by the study checks and the round report.

A nuisance param is stored as a list of alternatives (``{low, high, log[, step]}`` or
``{choices}``, maybe with a ``when``), and a check that misreads one (judges a trial against
a range that was never sampled, or a log range in linear units) reports a finding that is
wrong. So what an alternative means is decided here once: which one applied to a trial,
whether it is a numeric range, where a value sits in it, and how far it may be widened
without leaving what the experiment schema accepts.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

from orchestrator.analysis.model import StudyRecord
from orchestrator.train.numbers import is_finite, is_whole

_MISSING = object()


def is_number(value: Any) -> TypeGuard[float]:
    """A finite int or float (not a bool): something that has a position on an axis."""
    return is_finite(value)


def is_range(spec: dict[str, Any] | None) -> bool:
    """Whether a search-space alternative is a numeric range (``low`` < ``high``)."""
    if spec is None or "choices" in spec:
        return False
    low, high = spec.get("low"), spec.get("high")
    if not (is_number(low) and is_number(high)) or high <= low:
        return False
    return not (spec.get("log") and low <= 0)


def is_integer_spec(spec: dict[str, Any]) -> bool:
    """Integer ranges (ints for both bounds and the step) get integer suggestions."""
    step = spec.get("step")
    ints = [spec["low"], spec["high"]] + ([step] if step is not None else [])
    return all(is_whole(x) for x in ints)


def _when_holds(spec: dict[str, Any], point: dict[str, Any], params: dict[str, Any]) -> bool:
    """Every ``when`` pair equals the study's scientific point or the trial's own params."""
    for path, value in (spec.get("when") or {}).items():
        if point.get(path, _MISSING) != value and params.get(path, _MISSING) != value:
            return False
    return True


def active_spec(study: StudyRecord, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The search-space alternative of ``path`` that applied to a trial with ``params``.

    A param with several alternatives (ranges per optimizer, say) is judged against the one
    whose ``when`` holds for the study's point and the trial, not against a range that was
    never sampled. None when no alternative applies.
    """
    for spec in study.search_space.get(path, []):
        if _when_holds(spec, study.point, params):
            return spec
    return None


def unit_position(value: float, spec: dict[str, Any]) -> float:
    """Position of ``value`` in ``[low, high]``, in the param's own scale (log10 for log)."""
    low, high, value = float(spec["low"]), float(spec["high"]), float(value)
    if spec.get("log"):
        if value <= 0:
            return 0.0
        low, high, value = math.log10(low), math.log10(high), math.log10(value)
    return min(max((value - low) / (high - low), 0.0), 1.0)


# --------------------------------------------------------------------------- widening


def widened(spec: dict[str, Any], edge: str, path: str | None = None) -> float:
    """The bound of ``spec`` on ``edge`` pushed outwards, kept inside the schema's limits.

    Log ranges: one decade (low / 10, high x 10). Linear ranges: half the width (rounded up to
    the step when there is one), never below zero from a range that starts at or above it
    (a dropout of -0.3 means nothing). Integers are rounded outwards, and a log integer low
    stays at least 1. When the schema rejects the pushed value (a momentum of 1.2), the largest
    accepted value towards it is proposed instead (found by bisection), so a next-round
    draft built from the suggestion stays valid.
    """
    new = _pushed(spec, edge)
    if path is None or accepted(path, new):
        return new
    bound = float(spec[edge])
    ok, bad = bound, float(new)
    for _ in range(30):
        mid = (ok + bad) / 2.0
        ok, bad = (mid, bad) if accepted(path, mid) else (ok, mid)
    # Step back a little from the limit so the rounded value is still accepted (0.999, not 1).
    candidate = float(f"{bound + 0.95 * (ok - bound):.3g}")
    return candidate if accepted(path, candidate) else ok


def accepted(path: str, value: Any) -> bool:
    """Whether the experiment schema accepts ``value`` at ``path`` (all else at defaults);
    any value of a key outside the built-in schema (an own config's)."""
    from orchestrator.config.experiment import builtin_experiment
    from orchestrator.config.params import BUILTIN_SCHEMA
    from orchestrator.exceptions import ConfigError

    if path not in BUILTIN_SCHEMA.types:
        return True
    try:
        typed = BUILTIN_SCHEMA.check_type(path, path, value)
        builtin_experiment().with_values({path: typed}).validate()
    except ConfigError:
        return False
    return True


def _pushed(spec: dict[str, Any], edge: str) -> float:
    """The bound pushed outwards with no regard for limits (see ``widened``)."""
    low, high = float(spec["low"]), float(spec["high"])
    new: float
    if spec.get("log"):
        new = low / 10.0 if edge == "low" else high * 10.0
    else:
        half = (high - low) / 2.0
        step = spec.get("step")
        if step:
            half = math.ceil(half / step - 1e-9) * step
        new = low - half if edge == "low" else high + half
        new = round(new, 10 - math.floor(math.log10(high - low)))  # 0.2 - 0.2 is 2.8e-17
        if edge == "low" and low >= 0 and new < 0:  # a dropout, a rate, a count: no sign
            new = low - math.floor(low / step) * step if step else 0  # change, on its grid
    if is_integer_spec(spec):
        rounded = math.floor(new) if edge == "low" else math.ceil(new)
        return max(rounded, 1) if spec.get("log") else rounded
    return _tidy(new)


def _tidy(value: float) -> float:
    """Drop float noise from computed bounds (``1e-05 / 10`` is ``1.0000000000000002e-06``)."""
    return float(f"{value:.12g}")
