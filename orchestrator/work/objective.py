"""One trial: sample the nuisance values, build the trial config, train, record the outcome.

Outcomes (DESIGN.md): COMPLETE with the objective; infeasible (the trainer says the run
diverged) is COMPLETE with the constraint ``diverged`` = 1 and the reason and step as
user attributes, so samplers avoid the region and analysis marks it; PRUNED when the
evaluation callback stopped the run; FAIL for exceptions, with the error kept as the
``error`` user attribute and the traceback in the trial's folder (``traceback.txt``), said
in one line (the round goes on). Intermediate values are reported at each
evaluation, and the full curves go to the artifact store when too large to keep inline.

``TrialObjective.run`` returns the trial's ``Outcome``; ``optuna_objective`` turns it
into what ``study.optimize`` expects (a value, ``TrialPruned``, or ``TrialFailed``).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.artifacts import FileSystemArtifactStore

from orchestrator.config.experiment import Experiment
from orchestrator.exceptions import TrainerContractError, TrialFailed
from orchestrator.rounds.space import Round
from orchestrator.store.paths import trial_dir, trial_traceback_file
from orchestrator.store.record import (
    INFEASIBLE,
    QUEUED_AGAIN,
    TrialAttr,
    infeasible_value,
)
from orchestrator.store.trial_result import record_result
from orchestrator.train.result import TrainResult
from orchestrator.trainers.cache import TrainerCache
from orchestrator.trainers.protocol import TrialPlace
from orchestrator.trainers.reports import Reports
from orchestrator.trainers.signals import Interrupted, StopSignals
from orchestrator.work.liveness import owner

OutcomeKind = Literal["complete", "infeasible", "pruned", "failed"]


@dataclass(frozen=True)
class Outcome:
    """How one trial ended, with what Optuna stores and a line for the log."""

    kind: OutcomeKind
    value: float | None  # the objective (complete) or the stored placeholder (infeasible)
    params: dict[str, Any]
    number: int | None
    line: str  # how it ended, for the worker's log
    contract_error: str | None = None  # failed because the trainer broke its contract

    def for_optuna(self) -> float:
        """The value ``study.optimize`` stores; raises to mark PRUNED or FAIL."""
        if self.kind == "failed":
            raise TrialFailed(self.number, self.line)  # said once, by the worker's line
        if self.kind == "pruned":
            raise optuna.TrialPruned(self.line)
        assert self.value is not None
        return self.value


class TrialObjective:
    """Runs the trials of one study (one scientific point) for as long as the worker lives."""

    def __init__(
        self,
        rnd: Round,
        start: Experiment,
        point: Mapping[str, Any],
        *,
        artifacts_dir: Path,
        cache: TrainerCache,
        worker: int | None = None,
        stop: StopSignals | None = None,
    ) -> None:
        self.rnd, self.start, self.point = rnd, start, dict(point)
        self.cache = cache
        cache.ready(start)  # imported and checked (composed, found) before any trial
        # studies/artifacts: trial folders go beside it (absolute: an app may chdir)
        self.studies = artifacts_dir.resolve().parent
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        self.artifacts = FileSystemArtifactStore(str(artifacts_dir.resolve()))
        self.prunes = rnd.budget.pruner != "none"  # else never ask (it would read the study)
        self.owner = owner(worker)  # who runs the trial: a dead owner's trial is retried
        self.stop = stop

    def run(self, trial: optuna.Trial) -> Outcome:
        """Train one trial and record it; only a stop signal (``Interrupted``) escapes."""
        started = time.perf_counter()
        trial.set_user_attr(TrialAttr.OWNER, self.owner)
        window = self.stop.trial_window() if self.stop is not None else nullcontext()
        try:
            config = self.rnd.trial_config(
                self.start, self.point, self.rnd.suggest(trial, self.start, self.point)
            )
            with window:
                result = self.cache.train(config, self._reports(trial, config), self._place(trial))
        except Interrupted as err:  # SIGTERM/SIGINT: Optuna marks it FAIL, the loop stops
            trial.set_user_attr(TrialAttr.ERROR, f"interrupted by {err.signame}; {QUEUED_AGAIN}")
            trial.set_user_attr(TrialAttr.INTERRUPTED, err.signame)
            raise
        except SystemExit as err:  # e.g. submitit's preemption exit: fail it, not a zombie
            trial.set_user_attr(
                TrialAttr.ERROR, f"process exiting (SystemExit {err.code}); {QUEUED_AGAIN}"
            )
            trial.set_user_attr(TrialAttr.INTERRUPTED, "SystemExit")
            raise Interrupted("SystemExit") from err
        except Exception as err:  # noqa: BLE001 - the trial fails (recorded), the round goes on
            return self._failed(trial, err, time.perf_counter() - started)
        seconds = time.perf_counter() - started
        self._record(trial, result, seconds)
        return self._outcome(trial, result, config.metric, seconds)

    def _outcome(
        self, trial: optuna.Trial, result: TrainResult, metric: str, seconds: float
    ) -> Outcome:
        params, n = dict(trial.params), trial.number
        if result.diverged:
            trial.set_constraint(INFEASIBLE, 1.0)
            line = _line(trial, f"infeasible: {result.divergence_reason}", seconds)
            return Outcome("infeasible", infeasible_value(metric, result), params, n, line)
        trial.set_constraint(INFEASIBLE, 0.0)
        if result.status == "stopped":
            line = _line(trial, f"pruned at step {result.steps}", seconds)
            return Outcome("pruned", None, params, n, line)
        assert result.objective is not None  # the contract: only diverged runs lack one
        line = _line(
            trial, f"{metric}={result.objective:.4g} best_step={result.best_step}", seconds
        )
        return Outcome("complete", result.objective, params, n, line)

    def _failed(self, trial: optuna.Trial, err: Exception, seconds: float) -> Outcome:
        """The trainer's error kept with the trial, its traceback in the trial's folder; the
        outcome holds neither the exception nor its traceback (the failed run's memory)."""
        error = f"{type(err).__name__}: {err}"[:2000]
        trial.set_user_attr(TrialAttr.ERROR, error)
        path = trial_traceback_file(self.studies, trial.study.study_name, trial.number)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(traceback.format_exception(err)))
            where = f"traceback in {path}"
        except OSError as why:  # the trial is FAIL with its error all the same
            where = f"traceback not written ({why})"
        line = _line(trial, f"FAILED: {error}", seconds) + f"; {where}"
        broken = str(err) if isinstance(err, TrainerContractError) else None
        return Outcome("failed", None, dict(trial.params), trial.number, line, broken)

    def _place(self, trial: optuna.Trial) -> TrialPlace:
        name = trial.study.study_name
        return TrialPlace(f"{name}#{trial.number}", trial_dir(self.studies, name, trial.number))

    def _reports(self, trial: optuna.Trial, config: Experiment) -> Reports:
        """The trial's report hook: the objective's metric goes to Optuna at each step."""

        def on_value(step: int, value: float) -> bool:
            trial.report(value, step)
            return self.prunes and trial.should_prune()

        return Reports.of(config, on_value)

    def _record(self, trial: optuna.Trial, result: TrainResult, seconds: float) -> None:
        record_result(trial, result, seconds, self.artifacts)


@dataclass
class TrialRun:
    """One claimed trial as the worker loop sees it: its id once it exists, its outcome."""

    trial_id: int | None = None
    outcome: Outcome | None = None


def optuna_objective(
    objective: TrialObjective, run: TrialRun, on_start: Callable[[], None]
) -> Callable[[optuna.Trial], float]:
    """The callable for ``study.optimize(n_trials=1)``: runs one trial into ``run``.

    ``on_start`` is called as soon as the trial exists (the claim lock's release: other
    workers may claim theirs now).
    """

    def call(trial: optuna.Trial) -> float:
        on_start()
        run.trial_id = trial._trial_id
        run.outcome = objective.run(trial)  # holds no exception: the loop keeps it
        return run.outcome.for_optuna()

    return call


def _line(trial: optuna.Trial, outcome: str, seconds: float) -> str:
    params = " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
    )
    return f"trial {trial.number}: {outcome} [{params}] ({seconds:.1f}s)"
