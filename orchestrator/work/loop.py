"""The worker loop: claim a trial, run it, account for it, until every study has its budget.

The loop always feeds the study furthest from its budget, one trial at a time through
``study.optimize(n_trials=1)`` so Optuna's heartbeat thread and stale-trial check run for
every trial. Finished trials are never re-run: the budget counts COMPLETE and PRUNED
trials already in the store (plus RUNNING and WAITING ones, which someone will finish).
A trial left RUNNING by a killed process is failed and retried once with the same
parameters (``liveness.py`` on this machine, Optuna's heartbeat across machines).

Safe to run in many processes at once (``budget.workers``, Hydra multirun, several
machines): each claim re-counts the studies under the round's cross-process lock, picks
the study with the fewest claimed slots, and lets Optuna create or pop the trial before
the lock is released, so no study gets more than its budget and no retried point runs
twice. A stop signal ends the loop after failing the running trial with the reason.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import optuna
from tqdm.auto import tqdm

from orchestrator.config.experiment import Experiment
from orchestrator.exceptions import TrainerContractError
from orchestrator.rounds.space import Round
from orchestrator.store.record import Direction, StudyAttr
from orchestrator.trainers.cache import TrainerCache
from orchestrator.trainers.signals import Interrupted, StopSignals
from orchestrator.work.budget import StudyCounts, count_trials, next_study
from orchestrator.work.carry import carried_count
from orchestrator.work.claims import ClaimLock, NullClaimLock
from orchestrator.work.faults import StorageFaults, reap, requeue
from orchestrator.work.give_up import forgive, forgiven
from orchestrator.work.objective import Outcome, TrialObjective, TrialRun, optuna_objective
from orchestrator.work.studies import StudySummary, best_so_far, open_studies, summarise_all

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0  # re-read every study at least this often (other workers' trials)


@dataclass
class WorkerOptions:
    """How one worker runs a round: where artifacts go, who it is, its lock."""

    artifacts_dir: Path
    worker: int | None = None  # this worker's index among several (None: the only one)
    claim: ClaimLock = field(default_factory=NullClaimLock)
    stop: StopSignals | None = None  # SIGTERM/SIGINT handling, when installed
    progress: bool = True
    poll_seconds: float = 2.0  # wait between looks when only others' trials are running
    trials_limit: int | None = None  # racing's first half: each study stops at this many


@dataclass
class WorkerStats:
    """What one worker did, for its log line and the stress table."""

    worker: int | None = None
    trials: int = 0  # trials this worker ran to an end (any outcome)
    storage_errors: int = 0  # faults outside the objective (locks, lost connections), retried
    reaped: int = 0  # trials of dead workers this worker failed and re-queued
    interrupted: str | None = None  # the signal that stopped this worker, if one did
    contract_error: str | None = None  # the trainer broke its contract: the round stops


class _Next(Enum):
    STOP = "stop"  # the round is done (or given up), or a stop signal came
    WAIT = "wait"  # nothing to claim, but others' trials run: look again later
    RETRY = "retry"  # the store failed: claim again after the back-off


def run_round(
    rnd: Round,
    start: Experiment,
    storage: optuna.storages.BaseStorage,
    options: WorkerOptions,
    *,
    stats: WorkerStats | None = None,
    cache: TrainerCache | None = None,
) -> list[StudySummary]:
    """Run trials until every study of the round has its budget; return the summaries."""
    loop = WorkerLoop(rnd, start, storage, options, stats or WorkerStats(options.worker), cache)
    return loop.run()


class WorkerLoop:
    """One worker's trials of one round: claim, run, account (see the module docstring)."""

    def __init__(
        self,
        rnd: Round,
        start: Experiment,
        storage: optuna.storages.BaseStorage,
        options: WorkerOptions,
        stats: WorkerStats,
        cache: TrainerCache | None,
    ) -> None:
        self.rnd, self.storage, self.options, self.stats = rnd, storage, options, stats
        self.direction = Direction(start.direction)
        self.studies = open_studies(rnd, start, storage)
        self.study_ids = [study._study_id for _, study in self.studies]
        self.carried = [carried_count(study) for _, study in self.studies]
        self.stopped = [StudyAttr.STOPPED in study.user_attrs for _, study in self.studies]
        self.forgiven = [forgiven(study) for _, study in self.studies]  # work/give_up.py
        self.reopened = [bool(s.user_attrs.get(StudyAttr.REOPENED)) for _, s in self.studies]
        cache = cache if cache is not None else TrainerCache()
        self.objectives = [
            TrialObjective(
                rnd,
                start,
                point,
                artifacts_dir=options.artifacts_dir,
                cache=cache,
                worker=options.worker,
                stop=options.stop,
            )
            for point, _ in self.studies
        ]
        self.budget = options.trials_limit or rnd.trials_per_study
        self.max_failures = rnd.budget.max_failures or self.budget
        self.faults = StorageFaults(storage)
        self.summaries = summarise_all(rnd, self.studies)
        self.refreshed = time.monotonic()
        self.reaped_at = -math.inf  # reap at the first look
        self.running_elsewhere = False

    def run(self) -> list[StudySummary]:
        bar = self._progress_bar()
        while self.options.stop is None or self.options.stop.requested is None:
            step = self._claim_and_run()
            if step is _Next.STOP:
                break
            if step is _Next.WAIT:
                time.sleep(self.options.poll_seconds)
                continue
            if step is _Next.RETRY:
                continue
            self._account(*step, bar)
            _stop_on_contract_error(self.summaries[step[0]].name, step[1], bar)
        bar.close()
        stop = self.options.stop
        if stop is not None and stop.requested and self.stats.interrupted is None:
            self.stats.interrupted = stop.requested  # between trials: nothing was running
        return summarise_all(self.rnd, self.studies)

    def _claim_and_run(self) -> _Next | tuple[int, Outcome | None]:
        """Under the claim lock: pick a study and start its next trial; then run it."""
        i: int | None = None
        run = TrialRun()
        claim = self.options.claim
        claim.acquire()
        try:
            self.faults.fail_orphans()
            i = next_study(self._counts(), self.budget, self.max_failures, self.stopped)
            if i is not None:
                study = self.studies[i][1]
                objective = optuna_objective(self.objectives[i], run, on_start=claim.release)
                study.optimize(objective, n_trials=1, catch=(Exception,))
            elif self.running_elsewhere:
                self._fail_stale()
            self.faults.in_a_row = 0
        except Interrupted as err:
            self._interrupted(err, i, run)
            return _Next.STOP
        except Exception as err:  # noqa: BLE001 - never from the objective (catch= has those)
            self.stats.storage_errors += 1
            self.faults.record(err, self.studies[i][1] if i is not None else None, run.trial_id)
            return _Next.RETRY
        finally:
            claim.release()
        if i is None:
            return _Next.WAIT if self.running_elsewhere else _Next.STOP
        return i, run.outcome

    def _counts(self) -> list[StudyCounts]:
        """Every study's counts, fresh; trials of dead local workers reaped first."""
        counts = self._own(count_trials(self.storage, self.study_ids))
        overdue = time.monotonic() - self.reaped_at > self.options.poll_seconds
        if any(c.running for c in counts) and overdue:
            self.stats.reaped += reap([s for _, s in self.studies], self.storage, counts)
            self.reaped_at = time.monotonic()
            counts = self._own(count_trials(self.storage, self.study_ids))
        self.running_elsewhere = any(c.running for c in counts)
        return counts

    def _own(self, counts: list[StudyCounts]) -> list[StudyCounts]:
        """The counts without the trials carried in from earlier rounds (not this budget's)
        and without the failures forgiven after giving up (``work/give_up.py``)."""
        return [
            dataclasses.replace(c, finished=c.finished - carried, failed=c.failed - forgave)
            for c, carried, forgave in zip(counts, self.carried, self.forgiven, strict=True)
        ]

    def _fail_stale(self) -> None:
        """Fail the zombies of other machines (Optuna's heartbeat)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            for _, study in self.studies:
                optuna.storages.fail_stale_trials(study)

    def _interrupted(self, err: Interrupted, i: int | None, run: TrialRun) -> None:
        """The trial is FAIL with the reason; queue its retry, then stop."""
        self.stats.interrupted = err.signame
        if i is not None:
            requeue(self.studies[i][1], self.storage, run.trial_id)
        if err.signame == "SystemExit":
            raise SystemExit(1) from err  # e.g. submitit requeues the job after this

    def _account(self, i: int, outcome: Outcome | None, bar: tqdm[Any]) -> None:
        """Count the trial, show progress, log how it ended."""
        self.stats.trials += 1
        self.summaries[i].account(outcome, self.direction)
        if self.reopened[i] and outcome is not None and outcome.kind != "failed":
            study = self.studies[i][1]
            forgive(study)  # a given-up study's retry succeeded: the trainer works now
            self.reopened[i], self.forgiven[i] = False, forgiven(study)
        if time.monotonic() - self.refreshed > REFRESH_SECONDS:  # others' trials
            self.summaries, self.refreshed = (
                summarise_all(self.rnd, self.studies),
                time.monotonic(),
            )
        bar.n = sum(s.finished for s in self.summaries)
        bar.set_postfix_str(best_so_far(self.summaries, self.direction))
        bar.refresh()
        if outcome is not None:
            who = "" if self.options.worker is None else f"[worker {self.options.worker}] "
            log.info("%s%s %s", who, self.summaries[i].name, outcome.line)

    def _progress_bar(self) -> tqdm[Any]:
        worker = self.options.worker
        bar = tqdm(
            total=self.budget * len(self.studies),
            disable=not self.options.progress,
            unit="trial",
            dynamic_ncols=True,
        )
        bar.set_description(
            self.rnd.name if worker is None else f"{self.rnd.name} [worker {worker}]"
        )
        return bar


def _stop_on_contract_error(study: str, outcome: Outcome | None, bar: tqdm[Any]) -> None:
    """A trainer that breaks its contract (never reports the objective's metric, returns
    the wrong thing) would fail every trial the same way: stop the round with that error."""
    if outcome is not None and outcome.contract_error is not None:
        bar.close()
        raise TrainerContractError(
            f"{study} trial {outcome.number}: {outcome.contract_error} (the trial is FAIL; the "
            "round stops here, as every trial would fail the same way)"
        )
