"""A promotion decision as one typed record: what promotion writes to the ledger and what
the report and the round's answer read back.

Why a record of its own (not the ledger's row, not a dict): the row is a database object
tied to a session, and a dict read with ``.get("verdict", "?")`` hides a misspelt field
until a page shows "?". The record is plain data; ``from_dict`` is the one place that
knows what earlier versions stored (a ledger written before a field existed still reads:
a missing field takes its default, an unknown one is ignored).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """What promotion decided; the strings are what the ledger stores."""

    PROMOTED = "promoted"
    REJECTED = "rejected"
    BLOCKED = "blocked"


_VERDICTS = frozenset(v.value for v in Verdict)


@dataclass(frozen=True)
class DecisionRecord:
    """A decision with all its evidence: the candidate, the paired per-seed values of both,
    the effect with its interval, the rule that decided (``rule``: its settings, and for
    sequential reruns every look) and the verdict with its reason."""

    round_name: str
    verdict: Verdict | str  # a verdict this version does not know stays its string
    reason: str = ""
    candidate_study: str = ""
    candidate_trial: int | None = None
    candidate_config: dict[str, Any] = field(default_factory=dict)
    candidate_hash: str = ""
    incumbent_hash: str = ""
    seeds: list[int] = field(default_factory=list)
    candidate_values: list[float] = field(default_factory=list)
    incumbent_values: list[float] = field(default_factory=list)
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    rule: dict[str, Any] = field(default_factory=dict)
    state: str = "pending"  # pending | final

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DecisionRecord:
        """The record from a ledger row's columns (any version's): unknown keys are left
        out, missing ones take their defaults, a ``None`` list or dict reads as empty."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        for name in ("candidate_config", "rule", "seeds", "candidate_values", "incumbent_values"):
            if values.get(name) is None:
                values.pop(name, None)
        verdict = str(values.get("verdict") or "?")
        values["verdict"] = Verdict(verdict) if verdict in _VERDICTS else verdict
        values.setdefault("round_name", "")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The columns the ledger stores (the verdict as its string)."""
        return {**dataclasses.asdict(self), "verdict": str(self.verdict)}

    @property
    def looks(self) -> list[dict[str, Any]]:
        """Sequential reruns' looks, oldest first (none for a fixed-seed decision)."""
        return list(self.rule.get("looks") or [])

    @property
    def cap(self) -> int | None:
        """The most seeds either side could have had (absent in earlier ledgers)."""
        cap = self.rule.get("cap")
        return int(cap) if cap else None

    @property
    def runs_saved(self) -> int | None:
        """Reruns a decision that read every seed would have added (None: it read them)."""
        return runs_saved(self.rule, self.looks[-1]["n"]) if self.looks else None

    @property
    def candidate_why(self) -> str:
        """Why this trial is the candidate ("" in earlier ledgers)."""
        return str(self.rule.get("candidate_why") or "")

    @property
    def candidate(self) -> str:
        """``study trial N``, or the study alone when the trial is not known."""
        if self.candidate_trial is None:
            return self.candidate_study
        return f"{self.candidate_study} trial {self.candidate_trial}"

    def has_interval(self) -> bool:
        """Whether the effect and both bounds are numbers (not so in a malformed record)."""
        return all(
            isinstance(x, int | float) and not isinstance(x, bool)
            for x in (self.effect, self.ci_low, self.ci_high)
        )


def runs_saved(rule: Mapping[str, Any], used: int) -> int | None:
    """The reruns stopping after ``used`` seeds saved: the candidate's seeds up to the cap
    and the incumbent's that the ledger did not hold (``rule["saved_runs"]``, counted when
    decided); an earlier ledger's decision counts both sides. None when nothing was saved."""
    cap = rule.get("cap")
    if not cap or used >= int(cap):
        return None
    saved = rule.get("saved_runs")
    return int(saved) if saved is not None else 2 * (int(cap) - used)


NO_SPREAD_T = 1e9  # a look's t when every seed's improvement was the same (JSON: no inf)


def t_text(t: float) -> str:
    """A look's t statistic as people read it: a spread of zero is stored as +-1e9, since
    JSON has no infinity, and said as such."""
    if abs(t) >= NO_SPREAD_T:
        return ("+" if t > 0 else "-") + "inf (no spread)"
    return f"{t:.2f}"
