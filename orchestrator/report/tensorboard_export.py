"""Every trial's curves and hyperparameters as TensorBoard runs, where PyTorch users look.

One run per trial, named ``<round>/<study>/trial_<n>`` under ``studies/tensorboard`` (the
study's ``/`` and ``=`` kept, so TensorBoard's run filter selects a round or a study by
its name), written once from the stored curves after the trial ended, never inside the
step loop. Scalars: ``train/loss``, ``train/lr``, ``train/grad_norm``,
``train/update_ratio`` per step, ``val/loss``, ``val/error`` and the trainer's own
reported metrics (``metrics/<name>``) per evaluation. HParams: the trial's params and
scientific point, its state, and its objective as ``hparams/<metric>``: the HParams
dashboard then compares every trial of every round by its hyperparameters. No experiment
summary is written, so TensorBoard builds the HParams table from all runs' session data
(one experiment tag per round would make it pick one round arbitrarily).

A finished run holds a ``.exported`` marker, written last: re-analysing a round skips its
runs, and a run half-written by a killed export is written again. TensorBoard's own writer
does the encoding: the ``tensorboard`` package's event-file writer, summary protos and
HParams summaries, and nothing else (no TensorFlow, and no PyTorch either: a round whose
trainer does not use torch never imports it).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2, summary_v2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.store.paths import safe_parts
from orchestrator.train.numbers import is_finite

MARKER = ".exported"
STEP_CURVES = {"train_loss": "train/loss", "lr": "train/lr", "grad_norm": "train/grad_norm"}
EVAL_CURVES = {"val_loss": "val/loss", "val_error": "val/error"}
FINISHED = ("complete", "infeasible", "pruned")


def run_dir(log_root: Path, study: str, number: int) -> Path:
    """``<log_root>/<round>/<study point>/trial_<n>``: a study named ``round_1/model.depth=1``
    gives ``round_1/model.depth=1/trial_3``; a study without a point, ``round/trial_3``."""
    return Path(log_root, *safe_parts(study), f"trial_{number}")


def _hparam(value: Any) -> bool | str | float | int:
    """A value the HParams plugin takes (bool, str, float, int); anything else as text."""
    if isinstance(value, bool | str | int | float):
        return value
    return str(value)


def export_trial(log_root: Path, study: StudyRecord, trial: TrialRecord) -> bool:
    """Write one trial's run unless it is there; True when written now."""
    if trial.state not in FINISHED:
        return False
    folder = run_dir(log_root, study.name, trial.number)
    if (folder / MARKER).exists():
        return False
    if not folder.resolve().is_relative_to(Path(log_root).resolve()):
        raise ValueError(f"run {folder} would leave {log_root}")
    if folder.exists():  # a half-written run of a killed export: written again, whole
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    writer = EventFileWriter(str(folder))
    try:
        _scalars(writer, trial.curves or {})
        params = {**study.point, **trial.params}
        hp = {k: _hparam(v) for k, v in params.items()}
        hp["state"] = trial.state
        hp["study"] = study.name
        session = summary_v2.hparams_pb(
            hp, trial_id=f"{study.name}/trial_{trial.number}", start_time_secs=trial.started
        )  # its own row in the HParams table, however alike two trials' values are
        writer.add_event(Event(wall_time=time.time(), summary=session))
        writer.add_event(Event(wall_time=time.time(), summary=_session_end(trial.state)))
        if is_finite(trial.value):
            step = trial.steps or trial.max_steps or 0
            _scalar(writer, f"hparams/{study.metric}", trial.value, step)
    finally:
        writer.close()
    (folder / MARKER).write_text("")
    return True


def _session_end(state: str) -> Summary:
    """The HParams plugin's end-of-session record: success, failure (diverged) or unknown
    (pruned: stopped early, neither)."""
    status = {"complete": api_pb2.STATUS_SUCCESS, "infeasible": api_pb2.STATUS_FAILURE}
    info = plugin_data_pb2.SessionEndInfo(status=status.get(state, api_pb2.STATUS_UNKNOWN))
    content = plugin_data_pb2.HParamsPluginData(
        session_end_info=info, version=metadata.PLUGIN_DATA_VERSION
    )
    plugin = SummaryMetadata.PluginData(
        plugin_name=metadata.PLUGIN_NAME, content=content.SerializeToString()
    )
    value = Summary.Value(
        tag=metadata.SESSION_END_INFO_TAG, metadata=SummaryMetadata(plugin_data=plugin)
    )
    return Summary(value=[value])


def _scalar(writer: EventFileWriter, tag: str, value: float, step: int) -> None:
    summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
    writer.add_event(Event(wall_time=time.time(), step=int(step), summary=summary))


def _scalars(writer: EventFileWriter, curves: Mapping[str, Any]) -> None:
    for key, tag in STEP_CURVES.items():
        _series(writer, tag, range(1, len(curves.get(key) or []) + 1), curves.get(key) or [])
    _series(
        writer, "train/update_ratio", curves.get("update_ratio_step") or [],
        curves.get("update_ratio") or [],
    )  # fmt: skip
    evals = curves.get("eval_step") or []
    for key, tag in EVAL_CURVES.items():
        _series(writer, tag, evals, curves.get(key) or [])
    for name, values in (curves.get("metrics") or {}).items():
        _series(writer, f"metrics/{name}", evals, values or [])


def _series(
    writer: EventFileWriter, tag: str, steps: Iterable[Any], values: Iterable[Any]
) -> None:
    for step, value in zip(steps, values, strict=False):
        if is_finite(value) and isinstance(step, int | float):
            _scalar(writer, tag, value, int(step))


def export_round(log_root: Path, studies: Iterable[StudyRecord]) -> int:
    """Every finished trial of the studies not exported yet; how many were written now."""
    return sum(export_trial(log_root, s, t) for s in studies for t in s.trials)
