"""One trial: sample the nuisance values, build the trial config, train, record the outcome.

Outcomes (DESIGN.md): COMPLETE with the objective; infeasible (the trainer says the run
diverged) is COMPLETE with the constraint ``diverged`` = 1 and the reason and step as
user attributes, so samplers avoid the region and analysis marks it; PRUNED when the
evaluation callback stopped the run; FAIL for exceptions, with the error kept as the
``error`` user attribute (the runner catches it and the round goes on). Intermediate
values are reported at each evaluation, and the full curves go to the artifact store.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact

from orchestrator.config import resolve_trainer
from orchestrator.exceptions import TrainerContractError
from orchestrator.liveness import OWNER_ATTR, owner
from orchestrator.roles import Round
from orchestrator.signals import Interrupted, StopSignals
from orchestrator.train.config import ExperimentConfig
from orchestrator.train.data import Split, load_split
from orchestrator.train.result import TrainResult, as_train_result

log = logging.getLogger(__name__)

INFEASIBLE = "diverged"  # the constraint key; > 0 means infeasible
# A stored value is required for COMPLETE trials; infeasible ones get the metric's worst
# value. Never read it as a result: the constraint and `infeasible_reason` mark them.
_WORST = {"val_error": 1.0, "val_accuracy": 0.0}
INLINE_CURVES_BYTES = 4096  # larger curves go to the artifact store, not the database


@dataclass(frozen=True)
class Outcome:
    """How a trial ended: complete | infeasible | pruned | failed, with its value and params."""

    kind: str
    value: float | None
    params: dict[str, Any]
    number: int | None = None


class TrialObjective:
    """The callable ``study.optimize`` runs for one study (one scientific point).

    Lives as long as the worker: the trainer is resolved and each data set loaded once,
    not per trial.
    """

    def __init__(
        self,
        rnd: Round,
        start: ExperimentConfig,
        point: Mapping[str, Any],
        trainer_target: str,
        artifacts_dir: Path,
        data_cache: dict[str, Split] | None = None,
        *,
        worker: int | None = None,
        stop: StopSignals | None = None,
    ) -> None:
        self.rnd, self.start, self.point = rnd, start, dict(point)
        self.trainer = resolve_trainer(trainer_target)
        accepted = inspect.signature(self.trainer).parameters
        self._passes_data = "data" in accepted
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        self.artifacts = FileSystemArtifactStore(str(artifacts_dir))
        self._data = data_cache if data_cache is not None else {}
        self.prunes = False  # no pruner yet: asking one would read every trial, each report
        self.last_line: str | None = None  # how the last trial ended, for the runner's log
        self.last: Outcome | None = None  # the same as data, for the runner's accounting
        self.owner = owner(worker)  # who runs the trial: a dead owner's trial is retried
        self.stop = stop
        self.on_start: Callable[[], None] | None = None  # the runner's claim lock release
        self.trial_id: int | None = None  # the trial being run, for the runner's clean-up

    def __call__(self, trial: optuna.Trial) -> float:
        if self.on_start is not None:
            self.on_start()  # the trial exists: other workers may claim theirs now
        started = time.perf_counter()
        self.last_line, self.last = None, Outcome("failed", None, {})
        self.trial_id = trial._trial_id
        trial.set_user_attr(OWNER_ATTR, self.owner)
        window = self.stop.trial_window() if self.stop is not None else nullcontext()
        try:
            config = self.rnd.trial_config(
                self.start, self.point, self.rnd.suggest(trial, self.start, self.point)
            )
            with window:
                result = self.trainer(config, **self._trainer_kwargs(trial, config))
            result = as_train_result(result)
        except Interrupted as err:  # SIGTERM/SIGINT: Optuna marks it FAIL, the runner stops
            trial.set_user_attr("error", f"interrupted by {err.signame}; retried once")
            self.last_line = _line(
                trial, f"interrupted by {err.signame}", time.perf_counter() - started
            )
            raise
        except SystemExit as err:  # e.g. submitit's preemption exit: fail it, not a zombie
            trial.set_user_attr("error", f"process exiting (SystemExit {err.code}); retried once")
            raise Interrupted("SystemExit") from err
        except Exception as err:  # recorded, then re-raised for Optuna to mark FAIL
            error = f"{type(err).__name__}: {err}"[:2000]
            trial.set_user_attr("error", error)
            self.last_line = _line(trial, f"FAILED: {error}", time.perf_counter() - started)
            raise
        metric = config.objective.metric
        seconds = time.perf_counter() - started
        self._record(trial, result, seconds)
        if result.diverged:
            trial.set_constraint(INFEASIBLE, 1.0)
            self.last_line = _line(trial, f"infeasible: {result.divergence_reason}", seconds)
            self.last = Outcome("infeasible", None, dict(trial.params))
            return infeasible_value(metric, result)
        trial.set_constraint(INFEASIBLE, 0.0)
        if result.status == "stopped":
            self.last_line = _line(trial, f"pruned at step {result.steps}", seconds)
            self.last = Outcome("pruned", None, dict(trial.params))
            raise optuna.TrialPruned(f"stopped at step {result.steps}")
        assert result.objective is not None  # the contract: only diverged runs lack one
        outcome = f"{metric}={result.objective:.4g} best_step={result.best_step}"
        self.last_line = _line(trial, outcome, seconds)
        self.last = Outcome("complete", result.objective, dict(trial.params), trial.number)
        return result.objective

    def _trainer_kwargs(self, trial: optuna.Trial, config: ExperimentConfig) -> dict[str, Any]:
        metric = config.objective.metric

        def report(step: int, metrics: dict[str, float]) -> bool:
            if metric not in metrics:
                raise TrainerContractError(f"on_eval got no {metric!r} in {sorted(metrics)}")
            trial.report(metrics[metric], step)
            return self.prunes and trial.should_prune()

        kwargs: dict[str, Any] = {"on_eval": report}
        if self._passes_data:
            kwargs["data"] = self._split(config)
        return kwargs

    def _split(self, config: ExperimentConfig) -> Split:
        """The worker's copy of the data set (augmentation settings do not change tensors)."""
        d = config.data
        key = json.dumps(
            {k: v for k, v in vars(d).items() if k not in ("crop_padding", "hflip")},
            sort_keys=True,
        )
        if key not in self._data:
            self._data[key] = load_split(d)
        return self._data[key]

    def _record(self, trial: optuna.Trial, result: TrainResult, seconds: float) -> None:
        """One ``result`` attribute (one write), the curves inline when small, else an artifact."""
        summary = {
            "status": result.status,
            "best_step": result.best_step,
            "steps": result.steps,
            "max_steps": result.max_steps,
            "seed": result.seed,
            "final": result.final,
            "examples_per_s": round(result.examples_per_s, 1),
            "trial_seconds": round(seconds, 3),
        }
        curves = json.dumps(dataclasses.asdict(result.curves))
        if len(curves) <= INLINE_CURVES_BYTES:
            summary["curves"] = json.loads(curves)
        else:
            summary["curves_artifact"] = self._upload(trial, result)
        if result.diverged:
            trial.set_user_attr("infeasible_reason", result.divergence_reason)
            summary["diverged_step"] = result.diverged_step
        trial.set_user_attr("result", summary)

    def _upload(self, trial: optuna.Trial, result: TrainResult) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"trial-{trial.number}-result.json"
            path.write_text(json.dumps(result.to_dict()))
            return upload_artifact(
                artifact_store=self.artifacts,
                file_path=str(path),
                study_or_trial=trial,
                mimetype="application/json",
            )


def _line(trial: optuna.Trial, outcome: str, seconds: float) -> str:
    params = " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
    )
    return f"trial {trial.number}: {outcome} [{params}] ({seconds:.1f}s)"


def infeasible_value(metric: str, result: TrainResult) -> float:
    """The placeholder stored for a diverged run: the metric's worst value."""
    if metric in _WORST:
        return _WORST[metric]
    losses = [v for v in result.curves.train_loss if v is not None]
    return losses[0] if losses else 1e3  # val_loss: about the untrained loss
