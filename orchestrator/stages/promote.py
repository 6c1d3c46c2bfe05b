"""stage=promote: decide on the round's candidate, with the report's decision section."""

from __future__ import annotations

import dataclasses

import optuna
from optuna.artifacts import FileSystemArtifactStore

from orchestrator.analysis.load import study_record
from orchestrator.promotion.promote import PromotionJob, format_decision, promote
from orchestrator.report.tensorboard_export import export_round
from orchestrator.stages.report import rewrite_report_with_decision
from orchestrator.stages.round import RoundContext
from orchestrator.store import paths
from orchestrator.store.decision_record import Verdict
from orchestrator.store.incumbent import read_incumbent
from orchestrator.store.record import TrialAttr, promotion_study_name


def promote_round(ctx: RoundContext) -> int:
    """Paired reruns against the incumbent, the decision, the report's decision section."""
    current = read_incumbent(ctx.studies)
    incumbent = current.experiment(ctx.start) if current is not None else ctx.start
    job = PromotionJob(ctx.storage, ctx.ledger, ctx.studies, ctx.cache)
    row = promote(ctx.rnd, ctx.start, incumbent, job)
    print(format_decision(row))
    rewrite_report_with_decision(ctx)
    if ctx.root.paths.tensorboard:
        export_reruns(ctx)
    if row.verdict == Verdict.PROMOTED:
        print(f"  the next round starts from {paths.incumbent_file(ctx.studies)}")
    return 0


def export_reruns(ctx: RoundContext) -> None:
    """Promotion's seed reruns as TensorBoard runs (``<round>/promotion/trial_<n>``), their
    role (candidate, incumbent) and seed as the hyperparameters that tell them apart."""
    try:
        study = optuna.load_study(
            study_name=promotion_study_name(ctx.rnd.name), storage=ctx.storage
        )
    except KeyError:
        return  # no reruns (a blocked promotion)
    attrs = {t.number: t.user_attrs for t in study.get_trials(deepcopy=False)}
    record = study_record(study, FileSystemArtifactStore(str(paths.artifacts_dir(ctx.studies))))
    trials = [
        dataclasses.replace(
            t,
            params={
                "role": attrs[t.number].get(TrialAttr.ROLE),
                "seed": attrs[t.number].get(TrialAttr.SEED),
            },
        )
        for t in record.trials
    ]
    record = dataclasses.replace(record, metric=ctx.start.metric, trials=trials)
    runs = paths.tensorboard_dir(ctx.studies)
    try:
        print(f"  tensorboard: {export_round(runs, [record])} new rerun runs in {runs}")
    except OSError as err:  # the decision and report stand; the next promote retries
        print(f"  tensorboard: reruns not written ({err})")
