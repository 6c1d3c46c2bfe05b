"""Findings and their file, ``studies/<round>/findings.json``: one way to write and read.

The analysis stage writes the findings; promotion (block findings stop it), the report
and optuna-dashboard read them back through ``read_findings``.

A finding's kind and severity are ``StrEnum`` members: they are their strings (they compare,
hash, format and serialise as them), so the JSON on disk is what earlier versions wrote and
read. A kind this version does not know (a file from a later version) still reads: it
becomes a member of its own, outside the listed ones, instead of failing the whole file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from orchestrator.store.files import atomic_write


class Severity(StrEnum):
    """How much a finding matters: ``block`` stops promotion unless forced."""

    BLOCK = "block"
    WARN = "warn"
    INFO = "info"


SEVERITIES = tuple(Severity)  # most severe first


class Kind(StrEnum):
    """What a check saw (README: the findings table)."""

    BOUNDARY = "boundary"
    INFEASIBLE = "infeasible"
    FAILED = "failed"
    DENSITY = "density"
    IMPORTANCE = "importance"
    STEP_BUDGET = "step_budget"
    COMPARISON = "comparison"
    OVERFITTING = "overfitting"
    LATE_VARIANCE = "late_variance"
    STILL_IMPROVING = "still_improving"
    SATURATED_EARLY = "saturated_early"
    TRAINING_LOSS_RISING = "training_loss_rising"
    INSTABILITY = "instability"
    UPDATE_RATIO = "update_ratio"
    PRUNING = "pruning"
    SWEEP = "sweep"
    SKIPPED = "skipped"

    @classmethod
    def _missing_(cls, value: object) -> Kind | None:
        """An unknown kind's string becomes a member of its own (not listed in ``Kind``):
        a findings file written by a later version reads, and says the kind as written."""
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper()
        member._value_ = value
        return member


ALTERNATIVE = "or"  # a suggestion's alternative, itself a suggestion or a sentence


@dataclass(frozen=True)
class Finding:
    """One result of a check, for a person (``message``) and for a machine (``suggestion``)."""

    kind: Kind
    severity: Severity
    message: str  # one sentence a person understands, with the numbers
    study: str | None = None
    param: str | None = None
    suggestion: dict[str, Any] = field(default_factory=dict)  # e.g. {"high": 10.0}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Finding:
        """A record of ``findings.json`` (any version's: the kind and severity as strings)."""
        return cls(**{**raw, "kind": Kind(raw["kind"]), "severity": Severity(raw["severity"])})

    @property
    def alternative(self) -> Any:
        """The suggestion's alternative (``{"or": ...}``), None when it offers none."""
        return self.suggestion.get(ALTERNATIVE)


def with_alternative(suggestion: dict[str, Any], alternative: Any) -> dict[str, Any]:
    """``suggestion`` offering ``alternative`` instead (stored under ``"or"``)."""
    return {**suggestion, ALTERNATIVE: alternative}


def keep_suggested(suggestion: dict[str, Any], keep: Callable[[str], bool]) -> dict[str, Any]:
    """The suggestion with only the keys ``keep`` accepts, in its alternative too (when the
    alternative is itself a suggestion, not a sentence)."""
    kept = {k: v for k, v in suggestion.items() if keep(k)}
    alternative = kept.get(ALTERNATIVE)
    if isinstance(alternative, dict):
        kept[ALTERNATIVE] = {k: v for k, v in alternative.items() if keep(k)}
    return kept


def by_severity(findings: list[Finding]) -> list[Finding]:
    """Most severe first; stable within a severity."""
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


def write_findings(findings: list[Finding], path: Path) -> Path:
    """``findings.json``: a list of finding records."""
    atomic_write(path, json.dumps([f.to_dict() for f in findings], indent=1))
    return path


def read_findings(path: Path) -> list[Finding] | None:
    """The findings written at ``path``; None when the round was not analysed yet."""
    if not path.exists():
        return None
    return [Finding.from_dict(raw) for raw in json.loads(path.read_text())]
