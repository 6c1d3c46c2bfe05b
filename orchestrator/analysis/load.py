"""Reading a round from the store into the records the checks take (the only I/O of analysis).

Every stage reads what the previous one left in the store, so analysis runs on an old
round or a killed one exactly as on a fresh one.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any, cast

import optuna
from optuna.artifacts import FileSystemArtifactStore, download_artifact
from optuna.trial import FrozenTrial

from orchestrator.analysis.model import Curves, StudyRecord, TrialRecord
from orchestrator.config.trainer_settings import BUILTIN_TRAINER
from orchestrator.exceptions import OrchestratorError
from orchestrator.rounds.space import Round
from orchestrator.store.record import (
    Direction,
    ResultSummary,
    StudyAttr,
    TrialAttr,
    trial_outcome,
)
from orchestrator.train.numbers import is_real


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
        carried=TrialAttr.CARRIED_FROM in t.user_attrs,
        error=t.user_attrs.get(TrialAttr.ERROR) if state == "failed" else None,
        intermediate={
            int(step): float(v)
            for step, v in t.intermediate_values.items()
            if isinstance(v, int | float) and math.isfinite(v)
        },
    )


def _curves(result: ResultSummary, artifacts: FileSystemArtifactStore | None) -> Curves | None:
    """Inline curves, else the full result in the artifact store, else None (stored JSON:
    read as ``Curves``, whose keys are all optional)."""
    if result.get("curves"):
        return cast(Curves, result["curves"])
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
        return cast("Curves | None", json.loads(path.read_text()).get("curves"))


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
                f"study {name} is not in the store: run the round first (stage=work)"
            ) from None
        records.append(study_record(study, artifacts, dict(point)))
    return records


def study_record(
    study: optuna.Study,
    artifacts: FileSystemArtifactStore | None,
    point: dict[str, Any] | None = None,
) -> StudyRecord:
    """One loaded study as the checks see it (a round's, or promotion's reruns)."""
    return StudyRecord(
        name=study.study_name,
        point=dict(point or {}),
        direction=Direction.of(study.direction),
        metric=study.user_attrs.get(StudyAttr.METRIC, "val_error"),
        search_space=study.user_attrs.get(StudyAttr.SEARCH_SPACE, {}),
        trials=[trial_record(t, artifacts) for t in study.get_trials(deepcopy=False)],
        sampler=study.user_attrs.get(StudyAttr.SAMPLER, "qmc"),
        pruner=study.user_attrs.get(StudyAttr.PRUNER, "none"),
        val_examples=val_examples(study),
        stopped=(study.user_attrs.get(StudyAttr.STOPPED) or {}).get("reason"),
        grid=dict((study.user_attrs.get(StudyAttr.IDENTITY) or {}).get("grid") or {}),
    )


def val_examples(study: optuna.Study) -> int | None:
    """The validation set's size: what a trial reported as ``val_examples``, else, for the
    built-in experiment, ``data.val_size`` as the round set it (its scientific point, then
    its fixed values) or the start config had it; None when none is known."""
    for t in study.get_trials(deepcopy=False):
        final = t.user_attrs.get(TrialAttr.RESULT, {}).get("final") or {}
        size = _size(final.get("val_examples"))
        if size is not None:
            return size
    if study.user_attrs.get(StudyAttr.TRAINER, BUILTIN_TRAINER) != BUILTIN_TRAINER:
        return None
    point = study.user_attrs.get(StudyAttr.SCIENTIFIC_POINT) or {}
    fixed = (study.user_attrs.get(StudyAttr.ROLES) or {}).get("fixed") or {}
    start = (study.user_attrs.get(StudyAttr.START_CONFIG) or {}).get("data") or {}
    for size in (point.get("data.val_size"), fixed.get("data.val_size"), start.get("val_size")):
        if _size(size) is not None:
            return _size(size)
    return None


def _size(value: object) -> int | None:
    """A count of examples: a finite number of at least one (not a bool)."""
    if not is_real(value):
        return None
    return int(value) if math.isfinite(value) and value >= 1 else None
