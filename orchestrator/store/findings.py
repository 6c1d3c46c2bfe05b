"""Findings and their file, ``studies/<round>/findings.json``: one way to write and read.

The analysis stage writes the findings; promotion (block findings stop it), the report
and optuna-dashboard read them back through ``read_findings``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.store.files import atomic_write

SEVERITIES = ("block", "warn", "info")  # most severe first


@dataclass(frozen=True)
class Finding:
    """One result of a check, for a person (``message``) and for a machine (``suggestion``)."""

    kind: str  # boundary | infeasible | density | overfitting | ... (see README)
    severity: str  # info | warn | block
    message: str  # one sentence a person understands, with the numbers
    study: str | None = None
    param: str | None = None
    suggestion: dict[str, Any] = field(default_factory=dict)  # e.g. {"high": 10.0}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    return [Finding(**raw) for raw in json.loads(path.read_text())]
