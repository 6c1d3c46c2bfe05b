"""stage=promote: decide on the round's candidate, with the report's decision section."""

from __future__ import annotations

from orchestrator.promotion.promote import PromotionJob, format_decision, promote
from orchestrator.stages.report import rewrite_report_with_decision
from orchestrator.stages.round import RoundContext
from orchestrator.store import paths
from orchestrator.store.incumbent import read_incumbent


def promote_round(ctx: RoundContext) -> int:
    """Paired reruns against the incumbent, the decision, the report's decision section."""
    current = read_incumbent(ctx.studies)
    incumbent = current.experiment(ctx.start) if current is not None else ctx.start
    job = PromotionJob(ctx.storage, ctx.ledger, ctx.studies, ctx.cache)
    row = promote(ctx.rnd, ctx.start, incumbent, job)
    print(format_decision(row))
    rewrite_report_with_decision(ctx)
    if row.verdict == "promoted":
        print(f"  the next round starts from {paths.incumbent_file(ctx.studies)}")
    return 0
