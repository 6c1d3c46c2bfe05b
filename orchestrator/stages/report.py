"""``studies/<round>/report.html``: written after analysis, and again after the decision."""

from __future__ import annotations

from pathlib import Path

from orchestrator.analysis.load import load_round
from orchestrator.analysis.model import StudyRecord
from orchestrator.analysis.round_analysis import RoundAnalysis, analyse
from orchestrator.config.round import round_to_dict
from orchestrator.report.round_report import build_report_html, write_report
from orchestrator.stages.preflight import promotion_skipped
from orchestrator.stages.round import RoundContext
from orchestrator.store import paths
from orchestrator.store.findings import Finding, read_findings


def analysis_of(
    ctx: RoundContext, studies: list[StudyRecord], findings: list[Finding]
) -> RoundAnalysis:
    """The round's analysis: its draft and answer, with the promotion decision once there
    is one (read from the ledger here, once)."""
    assert ctx.root.round is not None
    return analyse(
        ctx.rnd.goal,
        round_to_dict(ctx.root.round),
        studies,
        findings,
        ctx.ledger.record(ctx.rnd.name),
        str(paths.next_round_file(ctx.studies, ctx.rnd.name)),
    )


def write_round_report(ctx: RoundContext, analysis: RoundAnalysis) -> Path:
    """The round's report from its analysis (with why promotion is skipped, when it is)."""
    html_text = build_report_html(
        round_name=ctx.rnd.name,
        goal=ctx.rnd.goal,
        roles=ctx.rnd.roles(),
        studies=analysis.studies,
        findings=analysis.findings,
        decision=analysis.decision,
        answer=analysis.answer,
        promotion_skipped=promotion_skipped(ctx.root, ctx.start),
    )
    return write_report(paths.report_file(ctx.studies, ctx.rnd.name), html_text)


def rewrite_report_with_decision(ctx: RoundContext) -> None:
    """After a decision: the report gets its decision section (findings as already written)."""
    findings = read_findings(paths.findings_file(ctx.studies, ctx.rnd.name))
    if findings is None:
        return
    studies = load_round(ctx.rnd, ctx.storage, paths.artifacts_dir(ctx.studies))
    print(f"  report: {write_round_report(ctx, analysis_of(ctx, studies, findings))}")
