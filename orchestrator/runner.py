"""A round's studies and the worker loop: run trials until every study has its budget.

The loop always feeds the study furthest from its budget, one trial at a time through
``study.optimize(n_trials=1)`` so Optuna's heartbeat thread and stale-trial check run for
every trial. Finished trials are never re-run: the budget counts COMPLETE and PRUNED
trials already in the store (plus RUNNING and WAITING ones, which someone will finish).
A trial left RUNNING by a killed process is failed once its heartbeat is stale and
retried once with the same parameters (a WAITING trial the next ``optimize`` picks up).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from tqdm.auto import tqdm

from orchestrator.budget import StudyCounts, count_trials, next_study
from orchestrator.claims import ClaimLock, NullClaimLock
from orchestrator.exceptions import ConfigError, StorageError
from orchestrator.liveness import reap_dead_trials, retry_once
from orchestrator.objective import INFEASIBLE, Outcome, TrialObjective
from orchestrator.roles import Round
from orchestrator.signals import Interrupted, StopSignals
from orchestrator.train.config import ExperimentConfig, experiment_from_dict, experiment_to_dict
from orchestrator.train.data import Split

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0  # re-read every study at least this often (other workers' trials)


@dataclass
class StudySummary:
    """Where one study stands: counts, and its best feasible trial."""

    name: str
    point: dict[str, Any]
    budget: int
    finished: int = 0
    infeasible: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_number: int | None = None


def config_hash(config: ExperimentConfig) -> str:
    text = json.dumps(experiment_to_dict(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def open_studies(
    rnd: Round, start: ExperimentConfig, storage: optuna.storages.BaseStorage
) -> list[tuple[dict[str, Any], optuna.Study]]:
    """Create or load one study per scientific point, stamped with the round's provenance.

    A study that exists but was started from another config is refused: mixing trials of
    two starting points would make the round's comparison meaningless.
    """
    digest = config_hash(start)
    out = []
    for point in rnd.points():
        name = rnd.study_name(point)
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            sampler=rnd.sampler(),
            pruner=optuna.pruners.NopPruner(),
            direction=start.objective.direction,
            load_if_exists=True,
        )
        previous = study.user_attrs.get("start_config_hash")
        if previous is not None and previous != digest:
            raise ConfigError(
                "round.start_from",
                f"study {name} was started from another config (hash {previous}, now {digest});"
                " finish it with the same starting config, or name the round anew",
            )
        attrs = {
            "round": rnd.name,
            "goal": rnd.goal,
            "scientific_point": {k: v for k, v in point.items()},
            "roles": rnd.roles(),
            "search_space": {p: [s.describe() for s in a] for p, a in rnd.nuisance.items()},
            "sampler": rnd.budget.sampler,
            "seed": rnd.budget.seed,
            "trials_per_study": rnd.budget.trials_per_study,
            "start_from": rnd.start_from,
            "start_config_hash": digest,
            "start_config": experiment_to_dict(start),
            "metric": start.objective.metric,
        }
        for key, value in attrs.items():
            if study.user_attrs.get(key) != value:
                study.set_user_attr(key, value)
        out.append((point, study))
    return out


def recorded_start(
    storage: optuna.storages.BaseStorage, round_name: str
) -> ExperimentConfig | None:
    """The start config stored with the round's studies, if the round was started before."""
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        name = summary.study_name
        if (name == round_name or name.startswith(f"{round_name}/")) and (
            "start_config" in summary.user_attrs
        ):
            return experiment_from_dict(summary.user_attrs["start_config"])
    return None


def summarise(rnd: Round, point: Mapping[str, Any], study: optuna.Study) -> StudySummary:
    s = StudySummary(rnd.study_name(point), dict(point), rnd.budget.trials_per_study)
    best: FrozenTrial | None = None
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.COMPLETE:
            s.finished += 1
            if t.constraints.get(INFEASIBLE, 0.0) > 0:
                s.infeasible += 1
            elif best is None or (t.value > best.value if maximize else t.value < best.value):
                best = t
        elif t.state == TrialState.PRUNED:
            s.finished += 1
            s.pruned += 1
        elif t.state == TrialState.FAIL:
            s.failed += 1
        elif t.state in (TrialState.RUNNING, TrialState.WAITING):
            s.running += 1
    if best is not None:
        s.best_value, s.best_params, s.best_number = best.value, dict(best.params), best.number
    return s


def _fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


@dataclass
class WorkerStats:
    """What one worker did, for its log line and the stress table."""

    worker: int | None = None
    trials: int = 0  # trials this worker ran to an end (any outcome)
    storage_errors: int = 0  # faults outside the objective (locks, lost connections), retried
    reaped: int = 0  # trials of dead workers this worker failed and re-queued
    interrupted: str | None = None  # the signal that stopped this worker, if one did


MAX_STORAGE_FAULTS = 5  # consecutive faults before the worker gives up with StorageError


def run_round(
    rnd: Round,
    start: ExperimentConfig,
    storage: optuna.storages.BaseStorage,
    *,
    trainer_target: str,
    artifacts_dir: Path,
    progress: bool = True,
    poll_seconds: float = 2.0,
    worker: int | None = None,
    claim: ClaimLock | None = None,
    stop: StopSignals | None = None,
    stats: WorkerStats | None = None,
) -> list[StudySummary]:
    """Run trials until every study of the round has its budget; return the summaries.

    Safe to run in many processes at once (``budget.workers``, Hydra multirun, several
    machines): each claim re-counts the studies under ``claim`` (the round's cross-process
    lock), picks the study with the fewest claimed slots, and lets Optuna create or pop
    the trial before the lock is released, so no study gets more than its budget and no
    retried point runs twice. ``stop`` (SIGTERM/SIGINT) ends the loop after failing the
    running trial with the reason; faults of the store outside the objective are logged,
    counted and retried, and only ``MAX_STORAGE_FAULTS`` in a row stop the worker.
    """
    claim = claim if claim is not None else NullClaimLock()
    stats = stats if stats is not None else WorkerStats(worker)
    studies = open_studies(rnd, start, storage)
    study_ids = [study._study_id for _, study in studies]
    data_cache: dict[str, Split] = {}
    objectives = [
        TrialObjective(
            rnd, start, point, trainer_target, artifacts_dir, data_cache, worker=worker, stop=stop
        )
        for point, _ in studies
    ]
    max_failures = rnd.budget.max_failures or rnd.budget.trials_per_study
    budget = rnd.budget.trials_per_study
    bar = tqdm(total=budget * len(studies), disable=not progress, unit="trial", dynamic_ncols=True)
    bar.set_description(rnd.name if worker is None else f"{rnd.name} [worker {worker}]")
    summaries = [summarise(rnd, p, s) for p, s in studies]
    maximize = start.objective.direction == "maximize"
    faults, reaped_at, refreshed = 0, 0.0, time.monotonic()
    orphans: dict[int, tuple[optuna.Study, str]] = {}  # our trials a storage error left RUNNING
    while stop is None or stop.requested is None:
        i: int | None = None
        claim.acquire()
        try:
            if orphans:
                _fail_orphans(orphans, storage)
            counts = count_trials(storage, study_ids)
            if any(c.running for c in counts) and time.monotonic() - reaped_at > poll_seconds:
                stats.reaped += _reap(studies, storage, counts)
                reaped_at = time.monotonic()
                counts = count_trials(storage, study_ids)
            i = next_study(counts, budget, max_failures)
            if i is not None:
                objectives[i].on_start = claim.release
                objectives[i].trial_id = None
                studies[i][1].optimize(objectives[i], n_trials=1, catch=(Exception,))
            elif any(c.running for c in counts):
                for _, study in studies:
                    _fail_stale(study)  # zombies of other machines (heartbeat)
            faults = 0
        except Interrupted as err:  # the trial is FAIL with the reason; queue its retry
            stats.interrupted = err.signame
            if i is not None:
                _requeue(studies[i][1], storage, objectives[i].trial_id)
            if err.signame == "SystemExit":
                raise SystemExit(1) from err  # e.g. submitit requeues the job after this
            break
        except Exception as err:  # noqa: BLE001 - never from the objective (catch= has those)
            faults += 1
            stats.storage_errors += 1
            _storage_fault(err, faults)
            if i is not None and objectives[i].trial_id is not None:
                reason = f"storage error: {describe_fault(err)}"
                orphans[objectives[i].trial_id] = (studies[i][1], reason)
            time.sleep(min(0.2 * 2**faults, 5.0) * (0.5 + random.random()))
            continue
        finally:
            claim.release()
        if i is None:
            if any(c.running for c in counts):  # others' trials, or dead ones to reap
                time.sleep(poll_seconds)
                continue
            break
        stats.trials += 1
        _account(summaries[i], objectives[i].last, maximize)
        if time.monotonic() - refreshed > REFRESH_SECONDS:  # others' trials, for the display
            summaries, refreshed = [summarise(rnd, p, s) for p, s in studies], time.monotonic()
        bar.n = sum(s.finished for s in summaries)
        bar.set_postfix_str(_best_so_far(summaries, start.objective.direction))
        bar.refresh()
        if objectives[i].last_line is not None:
            who = "" if worker is None else f"[worker {worker}] "
            log.info("%s%s %s", who, summaries[i].name, objectives[i].last_line)
    bar.close()
    if stop is not None and stop.requested and stats.interrupted is None:
        stats.interrupted = stop.requested  # between trials: nothing was running
    return [summarise(rnd, p, s) for p, s in studies]


def _reap(
    studies: list[tuple[dict[str, Any], optuna.Study]],
    storage: optuna.storages.BaseStorage,
    counts: list[StudyCounts],
) -> int:
    """Fail and re-queue the trials of dead workers on this machine (any store)."""
    reaped = 0
    for (_, study), c in zip(studies, counts, strict=True):
        if c.running:
            running = storage.get_all_trials(
                study._study_id, deepcopy=False, states=(TrialState.RUNNING,)
            )
            n = reap_dead_trials(study, storage, running)
            if n:
                log.warning(
                    "%s: %d trial(s) of a dead worker failed and re-queued", study.study_name, n
                )
            reaped += n
    return reaped


def _requeue(
    study: optuna.Study, storage: optuna.storages.BaseStorage, trial_id: int | None
) -> None:
    """Queue one retry of an interrupted trial (its point was never evaluated)."""
    if trial_id is None:
        return
    trial = storage.get_trial(trial_id)
    if trial.state == TrialState.FAIL:
        retry_once(study, trial)


def describe_fault(err: BaseException) -> str:
    """The root cause of a storage fault in one line.

    Optuna's ``_run_trial`` masks a failed write as ``AssertionError: Should not reach.``
    (reliability.md 1.1); the real cause ("database is locked") is down the context chain.
    """
    root, seen = err, {id(err)}
    while (nxt := root.__cause__ or root.__context__) is not None and id(nxt) not in seen:
        root = nxt
        seen.add(id(root))
    text = f"{type(root).__name__}: {root}".splitlines()[0][:300]
    return text if root is err else f"{text} (surfaced as {type(err).__name__})"


def _storage_fault(err: Exception, faults: int) -> None:
    """Log a fault of the store (never silent); too many in a row stop the worker."""
    what = describe_fault(err)
    if faults >= MAX_STORAGE_FAULTS:
        raise StorageError(
            f"the store failed {faults} times in a row (last: {what}); finished trials are "
            "kept: fix the store and run the same command again to resume"
        ) from err
    log.warning("storage error (%d/%d in a row), retrying: %s", faults, MAX_STORAGE_FAULTS, what)


def _fail_orphans(
    orphans: dict[int, tuple[optuna.Study, str]], storage: optuna.storages.BaseStorage
) -> None:
    """Fail (with the reason) and re-queue our own trials that a storage error left RUNNING.

    This process is alive, so neither the reaper nor (on the journal) a heartbeat would
    ever release them; retried at every claim until the store takes the writes.
    """
    for trial_id, (study, reason) in list(orphans.items()):
        try:
            if storage.get_trial(trial_id).state == TrialState.RUNNING:
                storage.set_trial_user_attr(trial_id, "error", reason)
                storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
                retry_once(study, storage.get_trial(trial_id))
            del orphans[trial_id]
        except Exception as again:  # noqa: BLE001 - the store still fails: next claim
            log.warning("trial %d not marked failed yet: %s", trial_id, type(again).__name__)


def _account(s: StudySummary, outcome: Outcome | None, maximize: bool) -> None:
    """Count the trial this worker just ran, without reading the store again."""
    if outcome is None or outcome.kind == "failed":
        s.failed += 1
        return
    s.finished += 1
    s.infeasible += outcome.kind == "infeasible"
    s.pruned += outcome.kind == "pruned"
    value = outcome.value
    if value is not None and (
        s.best_value is None or (value > s.best_value if maximize else value < s.best_value)
    ):
        s.best_value, s.best_params, s.best_number = value, outcome.params, outcome.number


def _best_so_far(summaries: list[StudySummary], direction: str) -> str:
    values = [s.best_value for s in summaries if s.best_value is not None]
    if not values:
        return "no feasible trial yet"
    return f"best {(max if direction == 'maximize' else min)(values):.4g}"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_summary(rnd: Round, summaries: list[StudySummary], metric: str) -> str:
    """The round's answer: per study, the best objective and its nuisance values."""
    lines = [f"round {rnd.name}: {rnd.goal}".rstrip(": ")]
    width = max(len(s.name) for s in summaries)
    lines.append(
        f"  {'study':<{width}}  {'trials':>7}  {'best ' + metric:>14}  "
        f"{'infeasible':>10}  {'failed':>6}  best nuisance values"
    )
    for s in summaries:
        best = f"{s.best_value:.4f}" if s.best_value is not None else "-"
        params = " ".join(f"{k}={_short(v)}" for k, v in s.best_params.items())
        lines.append(
            f"  {s.name:<{width}}  {s.finished:>3}/{s.budget:<3}  {best:>14}  "
            f"{s.infeasible:>10}  {s.failed:>6}  {params}"
        )
    return "\n".join(lines)
