"""Reading a round from the store into the records the checks take (the only I/O of analysis).

Every stage reads what the previous one left in the store, so analysis runs on an old
round or a killed one exactly as on a fresh one.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import FileSystemArtifactStore, download_artifact
from optuna.trial import FrozenTrial, TrialState

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.exceptions import OrchestratorError
from orchestrator.objective import INFEASIBLE
from orchestrator.roles import Round


def trial_state(t: FrozenTrial) -> str:
    """complete | infeasible | pruned | failed | running (WAITING counts as running)."""
    if t.state == TrialState.COMPLETE:
        return "infeasible" if t.constraints.get(INFEASIBLE, 0.0) > 0 else "complete"
    return {TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}.get(t.state, "running")


def trial_record(t: FrozenTrial, artifacts: FileSystemArtifactStore | None) -> TrialRecord:
    state = trial_state(t)
    result: dict[str, Any] = t.user_attrs.get("result", {})
    return TrialRecord(
        number=t.number,
        state=state,
        value=t.value if state == "complete" else None,
        params=dict(t.params),
        best_step=result.get("best_step"),
        max_steps=result.get("max_steps"),
        infeasible_reason=t.user_attrs.get("infeasible_reason"),
        curves=_curves(result, artifacts),
        started=t.datetime_start.timestamp() if t.datetime_start else None,
        finished=t.datetime_complete.timestamp() if t.datetime_complete else None,
    )


def _curves(result: dict[str, Any], artifacts: FileSystemArtifactStore | None) -> dict | None:
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
                direction=study.direction.name.lower(),
                metric=study.user_attrs.get("metric", "val_error"),
                search_space=study.user_attrs.get("search_space", {}),
                trials=[trial_record(t, artifacts) for t in study.get_trials(deepcopy=False)],
            )
        )
    return records
