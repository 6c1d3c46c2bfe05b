"""``findings.json`` across versions: the kinds and severities are enums now, the file is not.

A file written by an earlier version (plain strings) reads; one with a kind this version
does not know (a later version's check) reads too, the kind kept as written; and what is
written is byte for byte what the plain-string records wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.store.findings import (
    Finding,
    Kind,
    Severity,
    keep_suggested,
    read_findings,
    with_alternative,
    write_findings,
)

OLD_FORMAT = [
    {
        "kind": "late_variance",
        "severity": "warn",
        "message": "trial 3: over the last 25% of training the val_error varies",
        "study": "r/model.depth=2",
        "param": None,
        "suggestion": {"schedule.name": "linear", "or": "a larger validation set"},
    },
    {
        "kind": "a_check_from_a_later_version",
        "severity": "info",
        "message": "something new",
        "study": None,
        "param": None,
        "suggestion": {},
    },
]


def test_an_old_findings_file_reads_and_writes_back_identically(tmp_path: Path) -> None:
    path = tmp_path / "findings.json"
    text = json.dumps(OLD_FORMAT, indent=1)
    path.write_text(text)
    findings = read_findings(path)
    assert findings is not None
    assert findings[0].kind is Kind.LATE_VARIANCE and findings[0].severity is Severity.WARN
    assert findings[0].alternative == "a larger validation set"
    assert findings[1].kind == "a_check_from_a_later_version"
    assert str(findings[1].kind) == "a_check_from_a_later_version"
    assert isinstance(findings[1].kind, Kind) and findings[1].kind not in list(Kind)
    again = tmp_path / "again.json"
    write_findings(findings, again)
    assert again.read_text() == text


def test_enum_members_are_their_strings() -> None:
    finding = Finding(Kind.OVERFITTING, Severity.WARN, "m")
    assert finding.to_dict()["kind"] == "overfitting"
    assert json.dumps(finding.to_dict()).startswith('{"kind": "overfitting", "severity": "warn"')
    assert f"{finding.severity.upper():<5}|{finding.kind:<12}|" == "WARN |overfitting |"


def test_the_alternative_is_one_helper_both_ways() -> None:
    suggestion = with_alternative({"train.steps": 600}, {"schedule.name": "linear", "x": 1})
    assert suggestion == {"train.steps": 600, "or": {"schedule.name": "linear", "x": 1}}
    kept = keep_suggested(suggestion, lambda key: key != "schedule.name")
    assert kept == {"train.steps": 600, "or": {"x": 1}}
    assert Finding(Kind.STILL_IMPROVING, Severity.INFO, "m", suggestion=kept).alternative == {
        "x": 1
    }
