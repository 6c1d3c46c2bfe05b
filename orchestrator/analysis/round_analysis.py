"""One analysis of a round as one value: its findings, the next-round draft with its
changes, the promotion decision as it stood, and the answer made of them.

Why one value: the stage that analyses a round prints the answer, writes the draft and the
report; built piece by piece in each place, the draft was made three times and the decision
read twice per analysis, and nothing but care kept the copies equal. Built once here (pure:
no I/O), every reader gets the same draft and the same decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.analysis.answer import Answer, round_answer
from orchestrator.analysis.model import StudyRecord
from orchestrator.analysis.next_round import draft_of
from orchestrator.store.decision_record import DecisionRecord
from orchestrator.store.findings import Finding


@dataclass(frozen=True)
class RoundAnalysis:
    """What an analysis of a round says, for the terminal, the draft file and the report."""

    studies: list[StudyRecord]
    findings: list[Finding]
    draft: dict[str, Any]  # the next round, as plain data (validated before it is written)
    changes: list[str]  # why the draft differs from this round, change by change
    draft_path: str  # where the draft is written (the answer names it)
    decision: DecisionRecord | None  # promotion's, once there is one
    answer: Answer


def analyse(
    goal: str,
    round_cfg: dict[str, Any],
    studies: list[StudyRecord],
    findings: list[Finding],
    decision: DecisionRecord | None,
    draft_path: str,
) -> RoundAnalysis:
    """The analysis of a round from its config (plain data), studies, findings and decision."""
    draft, changes = draft_of(round_cfg, findings, studies)
    answer = round_answer(goal, studies, findings, decision, changes, draft_path)
    return RoundAnalysis(studies, findings, draft, changes, draft_path, decision, answer)
