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
does the encoding (PyTorch's ``SummaryWriter`` and its ``hparams`` summaries, on the
``tensorboard`` package).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from orchestrator.analysis.model import StudyRecord, TrialRecord

MARKER = ".exported"
STEP_CURVES = {"train_loss": "train/loss", "lr": "train/lr", "grad_norm": "train/grad_norm"}
EVAL_CURVES = {"val_loss": "val/loss", "val_error": "val/error"}
FINISHED = ("complete", "infeasible", "pruned")


def run_dir(log_root: Path, study: str, number: int) -> Path:
    """``<log_root>/<round>/<study point>/trial_<n>``: a study named ``round_1/model.depth=1``
    gives ``round_1/model.depth=1/trial_3``; a study without a point, ``round/trial_3``."""
    return Path(log_root, *study.split("/"), f"trial_{number}")


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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
    if folder.exists():  # a half-written run of a killed export: written again, whole
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with SummaryWriter(log_dir=str(folder)) as writer:
        _scalars(writer, trial.curves or {})
        params = {**study.point, **trial.params}
        hp = {k: _hparam(v) for k, v in params.items()}
        hp["state"] = trial.state
        metric = f"hparams/{study.metric}"
        value = trial.value if _finite(trial.value) else math.nan
        _, start, end = hparams(hp, {metric: value})
        writer.file_writer.add_summary(start)
        writer.file_writer.add_summary(end)
        if _finite(trial.value):
            writer.add_scalar(metric, value, trial.steps or trial.max_steps or 0)
    (folder / MARKER).write_text("")
    return True


def _scalars(writer: SummaryWriter, curves: Mapping[str, Any]) -> None:
    for key, tag in STEP_CURVES.items():
        _series(writer, tag, range(1, len(curves.get(key) or []) + 1), curves.get(key) or [])
    _series(
        writer,
        "train/update_ratio",
        curves.get("update_ratio_step") or [],
        curves.get("update_ratio") or [],
    )
    evals = curves.get("eval_step") or []
    for key, tag in EVAL_CURVES.items():
        _series(writer, tag, evals, curves.get(key) or [])
    for name, values in (curves.get("metrics") or {}).items():
        _series(writer, f"metrics/{name}", evals, values or [])


def _series(writer: SummaryWriter, tag: str, steps: Iterable[Any], values: Iterable[Any]) -> None:
    for step, value in zip(steps, values, strict=False):
        if _finite(value) and isinstance(step, int | float):
            writer.add_scalar(tag, float(value), int(step))


def export_round(log_root: Path, studies: Iterable[StudyRecord]) -> int:
    """Every finished trial of the studies not exported yet; how many were written now."""
    return sum(export_trial(log_root, s, t) for s in studies for t in s.trials)
