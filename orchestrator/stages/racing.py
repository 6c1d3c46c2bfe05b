"""Racing in the work stage: the round's first half, the decision, then the rest.

With ``budget.racing`` (the default) and two or more scientific values, the work stage
runs every study to half its budget, asks ``analysis/racing.py`` which values are
already clearly behind, records each stop on its study (``stopped_early``: after how
many trials, and why; optuna-dashboard shows it) and prints it, then runs the rest. The
workers never start a trial of a stopped study. The decision reads only each study's
first half, so a resumed round takes the same one. Hydra multirun jobs (``worker=N``)
run independently and do not race.
"""

from __future__ import annotations

import math

import optuna

from orchestrator.analysis.load import load_round
from orchestrator.analysis.racing import behind, first_trials
from orchestrator.stages.round import RoundContext
from orchestrator.store import paths
from orchestrator.store.record import StudyAttr


def races(ctx: RoundContext) -> bool:
    """Whether this run races: asked for, values to compare, one command in charge."""
    rnd = ctx.rnd
    return (
        rnd.budget.racing
        and len(rnd.points()) > 1
        and ctx.root.worker is None
        and rnd.budget.sampler != "grid"
        and rnd.trials_per_study >= 4
    )


def first_half(ctx: RoundContext) -> int:
    return math.ceil(ctx.rnd.trials_per_study / 2)


def stop_the_behind(ctx: RoundContext) -> None:
    """Record and print each study clearly behind after the first half (once)."""
    half = first_half(ctx)
    studies = load_round(ctx.rnd, ctx.storage, paths.artifacts_dir(ctx.studies))
    for name, reason in behind([first_trials(s, half) for s in studies]).items():
        study = optuna.load_study(study_name=name, storage=ctx.storage)
        if StudyAttr.STOPPED not in study.user_attrs:
            study.set_user_attr(StudyAttr.STOPPED, {"after": half, "reason": reason})
        print(f"  racing: {name} stops after {half} trials: {reason}")
