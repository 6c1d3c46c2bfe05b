"""Reading a round from the store into the records the checks take (the only I/O of analysis).

Every stage reads what the previous one left in the store, so analysis runs on an old
round or a killed one exactly as on a fresh one.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore, download_artifact
from optuna.trial import FrozenTrial

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.config.experiment import BUILTIN_TRAINER
from orchestrator.exceptions import OrchestratorError
from orchestrator.rounds.space import Round
from orchestrator.store.record import (
    Direction,
    ResultSummary,
    StudyAttr,
    TrialAttr,
    trial_outcome,
)


def trial_record(t: FrozenTrial, artifacts: FileSystemArtifactStore | None) -> TrialRecord:
    state = trial_outcome(t)
    result: ResultSummary = t.user_attrs.get(TrialAttr.RESULT, {})
    return TrialRecord(
        number=t.number,
        state=state,
        value=t.value if state == "complete" else None,
        params=dict(t.params),
        best_step=result.get("best_step"),
        max_steps=result.get("max_steps"),
        steps=result.get("steps"),
        infeasible_reason=t.user_attrs.get(TrialAttr.INFEASIBLE_REASON),
        curves=_curves(result, artifacts),
        started=t.datetime_start.timestamp() if t.datetime_start else None,
        finished=t.datetime_complete.timestamp() if t.datetime_complete else None,
    )


def _curves(result: ResultSummary, artifacts: FileSystemArtifactStore | None) -> dict | None:
    """Inline curves, else the full result in the artifact store, else None."""
    if result.get("curves"):
        return result["curves"]
    artifact_id = result.get("curves_artifact")
    if artifact_id is None or artifacts is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "result.json"
        try:
            download_artifact(
                artifact_store=artifacts, file_path=str(path), artifact_id=artifact_id
            )
        except FileNotFoundError:
            return None  # the artifact directory was moved or cleaned: analyse without curves
        return json.loads(path.read_text()).get("curves")


def load_round(
    rnd: Round, storage: optuna.storages.BaseStorage, artifacts_dir: Path | None
) -> list[StudyRecord]:
    """One record per study of the round; an error naming the round if it has not run."""
    artifacts = FileSystemArtifactStore(str(artifacts_dir)) if artifacts_dir else None
    records = []
    for point in rnd.points():
        name = rnd.study_name(point)
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            raise OrchestratorError(
                f"study {name} is not in the store: run the round first (make work-N)"
            ) from None
        records.append(
            StudyRecord(
                name=name,
                point=dict(point),
                direction=Direction.of(study.direction),
                metric=study.user_attrs.get(StudyAttr.METRIC, "val_error"),
                search_space=study.user_attrs.get(StudyAttr.SEARCH_SPACE, {}),
                trials=[trial_record(t, artifacts) for t in study.get_trials(deepcopy=False)],
                sampler=study.user_attrs.get(StudyAttr.SAMPLER, "qmc"),
                pruner=study.user_attrs.get(StudyAttr.PRUNER, "none"),
                val_examples=val_examples(study),
            )
        )
    return records


def val_examples(study: optuna.Study) -> int | None:
    """The validation set's size: what a trial reported as ``val_examples``, else the
    built-in experiment's ``data.val_size``; None when neither is known."""
    for t in study.get_trials(deepcopy=False):
        final = t.user_attrs.get(TrialAttr.RESULT, {}).get("final") or {}
        reported = final.get("val_examples")
        if isinstance(reported, int | float) and reported >= 1:
            return int(reported)
    trainer = study.user_attrs.get(StudyAttr.TRAINER, BUILTIN_TRAINER)
    start = study.user_attrs.get(StudyAttr.START_CONFIG) or {}
    size = (start.get("data") or {}).get("val_size") if trainer == BUILTIN_TRAINER else None
    return int(size) if isinstance(size, int) and size >= 1 else None
