"""Storing a trial's result: one ``result`` attribute, its curves inline when small, else
the whole result as an artifact (the database stays small; the analysis reads either).

Shared by the round's trials and promotion's seed reruns, so a rerun's curves are read
(the report, TensorBoard) exactly like a trial's.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact

from orchestrator.store.record import ResultSummary, TrialAttr, result_summary
from orchestrator.train.result import TrainResult

INLINE_CURVES_BYTES = 4096  # larger curves go to the artifact store, not the database


def record_result(
    trial: optuna.Trial, result: TrainResult, seconds: float, artifacts: FileSystemArtifactStore
) -> None:
    """One ``result`` attribute (one write), the curves inline when small, else an artifact."""
    summary: ResultSummary = result_summary(result, seconds)
    curves = json.dumps(dataclasses.asdict(result.curves))
    if len(curves) <= INLINE_CURVES_BYTES:
        summary["curves"] = json.loads(curves)
    else:
        summary["curves_artifact"] = _upload(trial, result, artifacts)
    if result.diverged:
        trial.set_user_attr(TrialAttr.INFEASIBLE_REASON, result.divergence_reason)
    trial.set_user_attr(TrialAttr.RESULT, summary)


def _upload(trial: optuna.Trial, result: TrainResult, artifacts: FileSystemArtifactStore) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"trial-{trial.number}-result.json"
        path.write_text(json.dumps(result.to_dict()))
        return upload_artifact(
            artifact_store=artifacts,
            file_path=str(path),
            study_or_trial=trial,
            mimetype="application/json",
        )
