"""``studies/<round>/report.html``: written after analysis, and again after the decision."""

from __future__ import annotations

from pathlib import Path

from orchestrator.analysis.load import load_round
from orchestrator.analysis.model import StudyRecord
from orchestrator.report.round_report import build_report_html, write_report
from orchestrator.stages.round import RoundContext
from orchestrator.store import paths
from orchestrator.store.findings import Finding, read_findings


def write_round_report(
    ctx: RoundContext, studies: list[StudyRecord], findings: list[Finding]
) -> Path:
    """The round's report, with the promotion decision once there is one."""
    row = ctx.ledger.decision(ctx.rnd.name)
    decision = None
    if row is not None:
        decision = {c.name: getattr(row, c.name) for c in row.__table__.columns}
    html_text = build_report_html(
        round_name=ctx.rnd.name,
        goal=ctx.rnd.goal,
        roles=ctx.rnd.roles(),
        studies=studies,
        findings=findings,
        decision=decision,
    )
    return write_report(paths.report_file(ctx.studies, ctx.rnd.name), html_text)


def rewrite_report_with_decision(ctx: RoundContext) -> None:
    """After a decision: the report gets its decision section (findings as already written)."""
    findings = read_findings(paths.findings_file(ctx.studies, ctx.rnd.name))
    if findings is None:
        return
    studies = load_round(ctx.rnd, ctx.storage, paths.artifacts_dir(ctx.studies))
    print(f"  report: {write_round_report(ctx, studies, findings)}")
