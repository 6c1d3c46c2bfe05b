"""The stored-trial record, named once: what a trial and a study keep in the store.

The work stage writes it, analysis and promotion read it, the report shows it. Every
attribute key, the infeasible marker, the config hash and "is this value better" live
here, so changing the record means changing this module, not hunting strings. The keys
are the ones stores written by earlier versions hold (``tests/store_tests`` reads such a
store): renaming one would orphan every round already run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal, TypedDict

from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from orchestrator.config.experiment import Experiment
from orchestrator.train.result import TrainResult

INFEASIBLE = "diverged"  # the constraint key; > 0 means the run diverged (infeasible)


class TrialAttr:
    """User-attribute keys of a trial."""

    OWNER = "worker"  # the process running it (host, boot id, pid, start time, index)
    ERROR = "error"  # why it failed (FAIL trials)
    RESULT = "result"  # a ResultSummary: status, steps, curves (inline or an artifact id)
    INFEASIBLE_REASON = "infeasible_reason"  # why it diverged
    ROLE = "role"  # promotion reruns: candidate | incumbent
    SEED = "seed"  # promotion reruns: the training seed
    CONFIG_HASH = "config_hash"  # promotion reruns: which configuration was trained
    CARRIED_FROM = "carried_from"  # a copy of an earlier round's trial: "<study>#<number>"
    # Stopped from outside (a signal, a SLURM time limit or preemption), not failed by its
    # training: its point is queued again however often it happens, and it does not count
    # toward budget.max_failures (value: the signal's name, or "SystemExit").
    INTERRUPTED = "interrupted"


class TrialSystemAttr:
    """System-attribute keys of a trial: copied onto its retries (``work/liveness.py``, and
    Optuna's own stale-trial retry), so a retry is the same point as the trial it repeats."""

    # Which point of the round's quasi-random sequence the trial evaluates (absent in stores
    # of earlier versions, where it was the trial's number): ``rounds/point_index.py``.
    POINT_INDEX = "point_index"


# How the worker's own failures of a trial end (a dead worker, a storage fault: retried once;
# an interrupt: queued again, however often): every other ``error`` is the trainer's.
RETRIED = "retried once"
QUEUED_AGAIN = "queued again"
STORAGE_FAULT = "storage error: "


def trainer_error(error: object) -> str | None:
    """A failed trial's ``error`` when the trainer (or the trial's config) raised it; None
    for the worker's own faults, which say nothing about the trial's values."""
    if not isinstance(error, str) or not error.strip():
        return None
    if RETRIED in error or QUEUED_AGAIN in error or error.startswith(STORAGE_FAULT):
        return None
    return error


PROMOTION_SUFFIX = "/promotion"


def promotion_study_name(round_name: str) -> str:
    """The study of a round's promotion reruns (candidate and incumbent, seed by seed): one
    name for promotion, which writes it, and the stages that read it back."""
    return f"{round_name}{PROMOTION_SUFFIX}"


class StudyAttr:
    """User-attribute keys of a round's study (its provenance)."""

    ROUND = "round"
    GOAL = "goal"
    SCIENTIFIC_POINT = "scientific_point"
    ROLES = "roles"
    SEARCH_SPACE = "search_space"
    SAMPLER = "sampler"
    PRUNER = "pruner"  # budget.pruner (absent: none, as in stores of earlier versions)
    SEED = "seed"
    TRIALS_PER_STUDY = "trials_per_study"
    START_FROM = "start_from"
    START_CONFIG_HASH = "start_config_hash"
    START_CONFIG = "start_config"
    METRIC = "metric"
    TRAINER = "trainer"  # trainer._target_ (absent in stores of earlier versions)
    IDENTITY = "identity"  # rounds/identity.py (absent in stores of earlier versions)
    CARRIED = "carried"  # how many earlier trials it started from (absent: none)
    STOPPED = "stopped_early"  # racing: {"after": n, "reason": ...} (absent: ran its budget)
    # Failures no longer counted toward budget.max_failures (absent: 0): a given-up study
    # that was run again, once a retried point of it succeeded (work/give_up.py).
    FAILURES_FORGIVEN = "failures_forgiven"
    # A given-up study run again: {"failed": n, "error": ...} at that moment, until one of
    # its trials succeeds (absent: not retried after giving up).
    REOPENED = "reopened"


class ResultSummary(TypedDict, total=False):
    """The ``result`` attribute: one write per trial; curves inline when small."""

    status: str
    best_step: int | None
    steps: int
    max_steps: int
    seed: int | None
    final: dict[str, float]
    examples_per_s: float
    trial_seconds: float
    curves: dict[str, Any]  # inline (small)
    curves_artifact: str  # else the full result in the artifact store
    diverged_step: int | None


def result_summary(result: TrainResult, seconds: float) -> ResultSummary:
    """The summary stored for ``result`` (curves are placed by the caller)."""
    summary: ResultSummary = {
        "status": result.status,
        "best_step": result.best_step,
        "steps": result.steps,
        "max_steps": result.max_steps,
        "seed": result.seed,
        "final": result.final,
        "examples_per_s": round(result.examples_per_s, 1),
        "trial_seconds": round(seconds, 3),
    }
    if result.diverged:
        summary["diverged_step"] = result.diverged_step
    return summary


class Direction(StrEnum):
    """Which way the objective improves; equal to the plain strings the config uses."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    @classmethod
    def of(cls, value: str | StudyDirection) -> Direction:
        """From the config's string or Optuna's ``StudyDirection``."""
        if isinstance(value, StudyDirection):
            return cls.MAXIMIZE if value == StudyDirection.MAXIMIZE else cls.MINIMIZE
        return cls(value)

    @property
    def maximize(self) -> bool:
        return self is Direction.MAXIMIZE

    def better(self, value: float, than: float | None) -> bool:
        """True when ``value`` beats ``than`` (anything beats no value yet)."""
        if than is None:
            return True
        return value > than if self.maximize else value < than

    def best(self, values: list[float]) -> float:
        return max(values) if self.maximize else min(values)


TrialOutcome = Literal["complete", "infeasible", "pruned", "failed", "running"]


def trial_outcome(trial: FrozenTrial) -> TrialOutcome:
    """complete | infeasible | pruned | failed | running (WAITING counts as running)."""
    if trial.state == TrialState.COMPLETE:
        return "infeasible" if trial.constraints.get(INFEASIBLE, 0.0) > 0 else "complete"
    if trial.state == TrialState.PRUNED:
        return "pruned"
    return "failed" if trial.state == TrialState.FAIL else "running"


def feasible_value(trial: FrozenTrial) -> float | None:
    """The objective of a complete, feasible trial; None for every other trial."""
    return trial.value if trial_outcome(trial) == "complete" else None


def config_hash(experiment: Experiment) -> str:
    """A short, stable digest of a full configuration and the trainer that trains it
    (provenance and rerun reuse: the same values under another trainer are another run)."""
    text = json.dumps(
        {"experiment": experiment.tree, "trainer": experiment.trainer}, sort_keys=True
    )
    return _digest(text)


def legacy_config_hash(tree: Mapping[str, Any]) -> str:
    """The digest earlier versions stored: the values alone, no trainer (read, never written)."""
    return _digest(json.dumps(tree, sort_keys=True))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# A stored value is required for COMPLETE trials; infeasible ones get the metric's worst
# value. Never read it as a result: the constraint and ``infeasible_reason`` mark them.
_WORST = {"val_error": 1.0, "val_accuracy": 0.0}


def infeasible_value(metric: str, result: TrainResult) -> float:
    """The placeholder stored for a diverged run: the metric's worst value."""
    if metric in _WORST:
        return _WORST[metric]
    losses = [v for v in result.curves.train_loss if v is not None]
    return losses[0] if losses else 1e3  # val_loss: about the untrained loss
