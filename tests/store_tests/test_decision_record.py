"""The promotion decision as a typed record: from the ledger of any version, back to it.

The report and the round's answer read ``DecisionRecord``; a ledger row written by an
earlier version (before ``rule`` had ``cap``, ``looks`` or ``candidate_why``, with columns
this record does not have) must still read, and a record written reads back as written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestrator.store.decision_record import DecisionRecord, Verdict
from orchestrator.store.ledger import Ledger

FIXTURE = Path(__file__).parent / "fixtures" / "store_fa90331"

OLD_ROW = {  # the columns of an earlier version's row, as read from its database
    "id": 1,
    "created_at": "2025-01-01T00:00:00+00:00",
    "round_name": "round_1",
    "candidate_study": "round_1/model.depth=1",
    "candidate_trial": 0,
    "candidate_config": {"model": {"depth": 1}},
    "candidate_hash": "abc",
    "incumbent_hash": "def",
    "seeds": [1, 2, 3],
    "candidate_values": [0.2, 0.21, 0.19],
    "incumbent_values": [0.3, 0.31, 0.29],
    "effect": 0.1,
    "ci_low": 0.09,
    "ci_high": 0.11,
    "rule": {"rule": "paired_t", "alpha": 0.05, "n": 3, "p_value": 0.001},
    "verdict": "promoted",
    "reason": "better",
    "state": "final",
}


def test_an_old_row_reads_its_missing_fields_defaulted() -> None:
    record = DecisionRecord.from_dict(OLD_ROW)
    assert record.verdict is Verdict.PROMOTED and record.state == "final"
    assert record.looks == [] and record.cap is None and record.candidate_why == ""
    assert record.candidate == "round_1/model.depth=1 trial 0" and record.has_interval()


def test_a_sparse_or_unknown_record_still_reads() -> None:
    record = DecisionRecord.from_dict({"verdict": "deferred", "seeds": None, "rule": None})
    assert record.verdict == "deferred" and record.seeds == [] and record.rule == {}
    assert record.candidate == "" and not record.has_interval()
    assert DecisionRecord.from_dict({}).verdict == "?"


def test_a_record_goes_through_the_ledger_unchanged(tmp_path: Path) -> None:
    written = DecisionRecord.from_dict({k: v for k, v in OLD_ROW.items() if k != "id"})
    written = DecisionRecord.from_dict({**written.to_dict(), "state": "pending"})
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.record_pending(written)
        assert ledger.record("round_1") == written
        assert ledger.record("round_2") is None


def test_the_earlier_versions_ledger_reads_as_records(tmp_path: Path) -> None:
    store = tmp_path / "studies"
    shutil.copytree(FIXTURE, store)
    with Ledger(f"sqlite:///{store}/tuning.db") as ledger:
        record = ledger.record("round_1")
    assert record is not None and record.verdict is Verdict.PROMOTED
    assert record.state == "final" and record.candidate.startswith("round_1/model.depth=1 trial")
