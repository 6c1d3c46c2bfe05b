"""One piece of advice per parameter: the study checks' suggestions made consistent.

Each check sees one kind of evidence, so alone they can contradict each other: the same
param told "widen its range" by the boundary check and "negligible, fix it" by the
importance check (which reads feasible trials only, so a param that alone decides
divergence looks unimportant), or a widening toward a region where every trial diverged.
Here, per study and param, the evidence is weighed together:

- a param whose values decide feasibility (an ``infeasible`` cluster on it) or failure (a
  ``failed`` one) matters: it is never "negligible", and it is not widened toward the side
  that diverged or failed;
- a param whose objective trends toward an edge (``boundary``) matters: not negligible;
- the training length has one advice: a learning-rate sweep's, else the round-wide step
  budget's, when there is one (the others keep their message only);
- values are written to be read (three significant digits; a trimmed bound rounded toward
  the side that trained, so it stays inside it; a value the schema would reject unrounded).
  The boundary check's widened bounds are already tidy (``search_space.widened``).

Pure: findings in, findings out; each dropped piece of advice is named in the message of
the one that wins, so nothing disappears silently.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from orchestrator.analysis.search_space import accepted
from orchestrator.store.findings import Finding, Kind


def readable(value: Any, direction: str = "nearest") -> Any:
    """``value`` with three significant digits (ints and non-numbers as they are);
    ``direction`` ``down``/``up`` rounds toward minus/plus infinity instead."""
    if isinstance(value, bool) or not isinstance(value, float) or not math.isfinite(value):
        return value
    if value == 0.0:
        return 0.0
    scale = 10 ** (math.floor(math.log10(abs(value))) - 2)
    units = round(value / scale, 6)  # 0.57 / 0.001 is 569.9999999999999, not 570
    rounding = {"down": math.floor, "up": math.ceil}.get(direction, round)
    return float(f"{rounding(units) * scale:.3g}")


TRIMMING = (Kind.INFEASIBLE, Kind.FAILED)  # kinds whose suggestion keeps a param where trials ran


def _trims(findings: list[Finding]) -> dict[tuple[str | None, str], set[str]]:
    """(study, param) -> the sides an infeasible or failing cluster trims (``drop``: a
    categorical value that always fails)."""
    out: dict[tuple[str | None, str], set[str]] = {}
    for f in findings:
        s = f.suggestion
        if f.kind in TRIMMING and "param" in s:
            sides = {e for e in ("low", "high", "drop") if e in s}
            out.setdefault((f.study, s["param"]), set()).update(sides)
    return out


def one_advice_per_param(findings: list[Finding]) -> list[Finding]:
    """The findings with contradicting advice resolved (see the module docstring). A side
    that diverged in any study is not widened in any (the draft's range is shared)."""
    findings = _one_length(findings)
    trims = _trims(findings)
    trimmed_sides: dict[str, set[str]] = {}
    for (_, param), sides in trims.items():
        trimmed_sides.setdefault(param, set()).update(sides)
    edges = {(f.study, f.param) for f in findings if f.kind == Kind.BOUNDARY and f.suggestion}
    out = []
    for f in findings:
        key = (f.study, f.param or "")
        if f.kind == Kind.IMPORTANCE and "fixed" in f.suggestion and key in trims:
            out.append(_kept_tuned(f, "its values decide which trials diverge or fail"))
        elif f.kind == Kind.IMPORTANCE and "fixed" in f.suggestion and key in edges:
            out.append(_kept_tuned(f, "the objective trends toward an edge of its range"))
        elif f.kind == Kind.BOUNDARY and set(f.suggestion) & trimmed_sides.get(key[1], set()):
            out.append(_no_widening(f))
        else:
            out.append(_readable_suggestion(f))
    return out


LENGTH_KINDS = ("saturated_early", "still_improving")  # per-trial hints at the length


def _one_length(findings: list[Finding]) -> list[Finding]:
    """One training length: when the round-wide step-budget finding suggests one, the
    per-trial curve hints (saturated early: fewer; still improving: more) keep their
    message but give up their length suggestion, so the two never pull apart."""
    budget = next((f for f in findings if f.kind == Kind.SWEEP and f.suggestion), None)
    kinds: tuple[str, ...] = (*LENGTH_KINDS, "step_budget")
    if budget is None:
        budget = next((f for f in findings if f.kind == Kind.STEP_BUDGET and f.suggestion), None)
        kinds = LENGTH_KINDS
    if budget is None:
        return findings
    out = []
    for f in findings:
        if f.kind in kinds and f.suggestion:
            owner = "the sweep's" if budget.kind == Kind.SWEEP else "the step budget's"
            message = f"{f.message.rstrip('.')}; the length is {owner} to set."
            f = dataclasses.replace(f, message=message, suggestion={})
        out.append(f)
    return out


def _kept_tuned(f: Finding, why: str) -> Finding:
    message = f"{f.message.rstrip('.')}; but {why}, so it stays tuned."
    return dataclasses.replace(f, message=message, suggestion={})


def _no_widening(f: Finding) -> Finding:
    message = (
        f"{f.message.rstrip('.')}; not widened: trials beyond that edge diverged "
        "(see infeasible), so the optimum is probably just inside the divergence."
    )
    return dataclasses.replace(f, message=message, suggestion={})


def _readable_suggestion(f: Finding) -> Finding:
    s = dict(f.suggestion)
    if f.kind in TRIMMING:
        for edge, toward in (("high", "down"), ("low", "up")):
            if edge in s:
                s[edge] = readable(s[edge], toward)
    elif f.kind == Kind.IMPORTANCE and "fixed" in s and f.param:
        s["fixed"] = readable_accepted(f.param, s["fixed"])
    return dataclasses.replace(f, suggestion=s)


def readable_accepted(path: str, value: Any) -> Any:
    """``value`` rounded to three significant digits, unless the schema rejects that (a
    momentum of 0.9996 is not fixed at 1.0): then as it is."""
    rounded = readable(value)
    return rounded if accepted(path, rounded) else value
