"""stage=analyze: the playbook's checks on the stored round, without training.

Then the next-round draft (validated as a round before it is written), the findings in
optuna-dashboard, and the HTML report. Reads only what the work stage left in the store,
so it runs on an old round or a killed one exactly as on a fresh one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.analysis.answer import format_answer
from orchestrator.analysis.load import load_round
from orchestrator.analysis.model import StudyRecord
from orchestrator.analysis.next_round import draft_summary, render
from orchestrator.analysis.round_analysis import RoundAnalysis
from orchestrator.analysis.run import analyze, format_findings
from orchestrator.config.round import round_from_dict
from orchestrator.report.dashboard import push_findings
from orchestrator.report.figures import axis_plot
from orchestrator.report.tensorboard_export import export_round
from orchestrator.rounds.validate import parse_round
from orchestrator.stages.report import analysis_of, write_round_report
from orchestrator.stages.round import RoundContext
from orchestrator.store import paths
from orchestrator.store.files import atomic_write
from orchestrator.store.findings import write_findings


def analyze_round(ctx: RoundContext) -> int:
    """Findings, draft, dashboard notes and report of the opened round."""
    assert ctx.root.round is not None
    rnd = ctx.rnd
    studies = load_round(rnd, ctx.storage, paths.artifacts_dir(ctx.studies))
    start = ctx.start
    own_paths = None if start.builtin else set(start.schema.types)
    findings = analyze(studies, ctx.root.analysis, start.length_key, own_paths)
    path = write_findings(findings, paths.findings_file(ctx.studies, rnd.name))
    analysis = analysis_of(ctx, studies, findings)  # the draft and the answer, made once
    draft_path = write_draft(ctx, analysis)
    print(format_answer(analysis.answer))
    print(format_findings(findings))
    push_findings(ctx.storage, studies, rnd.goal, findings, _dashboard_figures)
    report = write_round_report(ctx, analysis)
    if ctx.root.paths.tensorboard:
        export_to_tensorboard(ctx, studies)
    print(
        f"  written to {path}; next-round draft ({draft_summary(analysis.changes)}): "
        f"{draft_path}; report: {report}"
    )
    return 0


def write_draft(ctx: RoundContext, analysis: RoundAnalysis) -> Path:
    """The next-round draft, validated as a round before it is written (a draft that would
    not load is a bug here)."""
    parse_round(round_from_dict(analysis.draft), ctx.start)
    path = Path(analysis.draft_path)
    atomic_write(path, render(analysis.draft, analysis.changes, f"{ctx.rnd.name}'s findings"))
    return path


def export_to_tensorboard(ctx: RoundContext, studies: list[StudyRecord]) -> None:
    """The studies' trials as TensorBoard runs; a file-system error is a warning (the
    findings, draft and report are written already, and the next analysis retries)."""
    runs = paths.tensorboard_dir(ctx.studies)
    try:
        print(f"  tensorboard: {export_round(runs, studies)} new runs in {runs}")
    except OSError as err:
        print(f"  tensorboard: not written ({err}); run stage=analyze again to retry")


def _dashboard_figures(study: StudyRecord) -> dict[str, Any]:
    """The axis plot of each nuisance param, for the study's page in optuna-dashboard."""
    return {f"axis-{param}": axis_plot(study, param) for param in study.search_space}
