"""``studies/<round>/report.html``: written after analysis, and again after the decision."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from orchestrator.analysis.answer import Answer, round_answer
from orchestrator.analysis.load import load_round
from orchestrator.analysis.model import StudyRecord
from orchestrator.analysis.next_round import draft_of
from orchestrator.report.round_report import build_report_html, write_report
from orchestrator.stages.round import RoundContext
from orchestrator.store import paths
from orchestrator.store.findings import Finding, read_findings


def write_round_report(
    ctx: RoundContext, studies: list[StudyRecord], findings: list[Finding]
) -> Path:
    """The round's report, with the promotion decision once there is one."""
    decision = decision_of(ctx)
    html_text = build_report_html(
        round_name=ctx.rnd.name,
        goal=ctx.rnd.goal,
        roles=ctx.rnd.roles(),
        studies=studies,
        findings=findings,
        decision=decision,
        answer=answer_of(ctx, studies, findings, decision),
    )
    return write_report(paths.report_file(ctx.studies, ctx.rnd.name), html_text)


def decision_of(ctx: RoundContext) -> dict[str, Any] | None:
    """The round's promotion decision as plain data, None before there is one."""
    row = ctx.ledger.decision(ctx.rnd.name)
    if row is None:
        return None
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}


def answer_of(
    ctx: RoundContext,
    studies: list[StudyRecord],
    findings: list[Finding],
    decision: dict[str, Any] | None,
) -> Answer:
    """The round's answer, with the next-round draft's changes (the draft is pure: the same
    findings give the same changes the analysis wrote)."""
    assert ctx.root.round is not None
    raw = {k: v for k, v in dataclasses.asdict(ctx.root.round).items() if v is not None}
    _, changes = draft_of(raw, findings, studies)
    where = str(paths.next_round_file(ctx.studies, ctx.rnd.name))
    return round_answer(ctx.rnd.goal, studies, findings, decision, changes, where)


def rewrite_report_with_decision(ctx: RoundContext) -> None:
    """After a decision: the report gets its decision section (findings as already written)."""
    findings = read_findings(paths.findings_file(ctx.studies, ctx.rnd.name))
    if findings is None:
        return
    studies = load_round(ctx.rnd, ctx.storage, paths.artifacts_dir(ctx.studies))
    print(f"  report: {write_round_report(ctx, studies, findings)}")
