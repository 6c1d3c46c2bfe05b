"""One piece of advice per parameter: the study checks' suggestions made consistent.

Each check sees one kind of evidence, so alone they can contradict each other: the same
param told "widen its range" by the boundary check and "negligible, fix it" by the
importance check (which reads feasible trials only, so a param that alone decides
divergence looks unimportant), or a widening toward a region where every trial diverged.
Here, per study and param, the evidence is weighed together:

- a param whose values decide feasibility (an ``infeasible`` cluster on it) matters: it
  is never "negligible", and it is not widened toward the side that diverged;
- a param whose objective trends toward an edge (``boundary``) matters: not negligible;
- values are written to be read (three significant digits; a trimmed bound rounded toward
  the side that trained, so it stays inside it).

Pure: findings in, findings out; each dropped piece of advice is named in the message of
the one that wins, so nothing disappears silently.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from orchestrator.store.findings import Finding


def readable(value: Any, direction: str = "nearest") -> Any:
    """``value`` with three significant digits (ints and non-numbers as they are);
    ``direction`` ``down``/``up`` rounds toward minus/plus infinity instead."""
    if isinstance(value, bool) or not isinstance(value, float) or not math.isfinite(value):
        return value
    if value == 0.0:
        return 0.0
    scale = 10 ** (math.floor(math.log10(abs(value))) - 2)
    rounding = {"down": math.floor, "up": math.ceil}.get(direction, round)
    return float(f"{rounding(value / scale) * scale:.3g}")


def _trims(findings: list[Finding]) -> dict[tuple[str | None, str], set[str]]:
    """(study, param) -> the sides an infeasible cluster trims."""
    out: dict[tuple[str | None, str], set[str]] = {}
    for f in findings:
        s = f.suggestion
        if f.kind == "infeasible" and "param" in s:
            sides = {e for e in ("low", "high") if e in s}
            out.setdefault((f.study, s["param"]), set()).update(sides)
    return out


def one_advice_per_param(findings: list[Finding]) -> list[Finding]:
    """The findings with contradicting advice resolved (see the module docstring)."""
    trims = _trims(findings)
    edges = {(f.study, f.param) for f in findings if f.kind == "boundary" and f.suggestion}
    out = []
    for f in findings:
        key = (f.study, f.param or "")
        if f.kind == "importance" and "fixed" in f.suggestion and key in trims:
            out.append(_kept_tuned(f, "its values decide which trials diverge"))
        elif f.kind == "importance" and "fixed" in f.suggestion and key in edges:
            out.append(_kept_tuned(f, "the objective trends toward an edge of its range"))
        elif f.kind == "boundary" and set(f.suggestion) & trims.get(key, set()):
            out.append(_no_widening(f))
        else:
            out.append(_readable_suggestion(f))
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
    if f.kind == "infeasible":
        for edge, toward in (("high", "down"), ("low", "up")):
            if edge in s:
                s[edge] = readable(s[edge], toward)
    elif f.kind in ("importance", "boundary"):
        s = {k: readable(v) for k, v in s.items()}
    return dataclasses.replace(f, suggestion=s)
