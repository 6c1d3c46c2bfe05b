"""The round stages as step lists: work, analyze, promote, and run (all three in order;
the last skipped, and said so, when the round cannot promote)."""

from __future__ import annotations

from orchestrator.config.experiment import Experiment
from orchestrator.config.schema import Config
from orchestrator.stages.analyze import analyze_round
from orchestrator.stages.preflight import promotion_skipped
from orchestrator.stages.promote import promote_round
from orchestrator.stages.round import RoundContext, run_round_steps
from orchestrator.stages.work import work


def run(root: Config, base: Experiment) -> int:
    """Work, analysis, promotion; without promotion when the round cannot promote (said
    in the terminal and the report, with the setting that would promote it)."""
    return run_round_steps(root, base, [work, analyze_round, promote_or_skip], starts_work=True)


def promote_or_skip(ctx: RoundContext) -> int:
    """Promotion, or the run's last line when the round does not promote: why, and how to
    promote it later."""
    why = promotion_skipped(ctx.root, ctx.start)
    if why is None:
        return promote_round(ctx)
    print(f"promotion of {ctx.rnd.name}: skipped, {why}")
    return 0


def work_only(root: Config, base: Experiment) -> int:
    return run_round_steps(root, base, [work], starts_work=True)


def analyze_only(root: Config, base: Experiment) -> int:
    return run_round_steps(root, base, [analyze_round], starts_work=False)


def promote_only(root: Config, base: Experiment) -> int:
    return run_round_steps(root, base, [promote_round], starts_work=False)
