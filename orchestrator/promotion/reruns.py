"""Paired seed reruns: a configuration trained once per seed, each a trial of the round's
``<round>/promotion`` study (so they show in optuna-dashboard), reused when already there.

Reruns are a worker's trials too: they share one ``TrainerCache`` (the data set and the
compiled graphs are made once for all of them). They never prune.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState

from orchestrator.config.experiment import Experiment
from orchestrator.store.paths import artifacts_dir, trial_dir
from orchestrator.store.record import INFEASIBLE, TrialAttr, config_hash, infeasible_value
from orchestrator.store.trial_result import record_result
from orchestrator.trainers.cache import TrainerCache
from orchestrator.trainers.protocol import TrialPlace
from orchestrator.trainers.reports import Reports
from orchestrator.trainers.signals import interrupting_training

log = logging.getLogger(__name__)


def rerun_values(
    study: optuna.Study,
    role: str,
    config: Experiment,
    seeds: list[int],
    known: Mapping[int, float],
    cache: TrainerCache,
    studies: str | Path = "studies",
) -> list[float]:
    """The objective of ``config`` trained with each seed, reusing what is stored already."""
    digest = config_hash(config)
    done: dict[int, float] = {
        t.user_attrs[TrialAttr.SEED]: t.value
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.user_attrs.get(TrialAttr.CONFIG_HASH) == digest and t.value is not None
    }
    values = []
    for seed in seeds:
        if seed in done:
            values.append(done[seed])
        elif seed in known:
            log.info(
                "%s seed %d: %.4g from the ledger (already measured)", role, seed, known[seed]
            )
            values.append(known[seed])
        else:
            assert config.seed_key is not None  # the promote stage made sure
            seeded = config.with_values({config.seed_key: seed})
            values.append(_train(study, role, seeded, seed, digest, cache, studies))
    return values


def _place(study: optuna.Study, number: int, studies: str | Path) -> TrialPlace:
    """A rerun's own folder, beside the round's trials (``<round>/promotion/<n>``)."""
    folder = trial_dir(Path(studies).resolve(), study.study_name, number)
    return TrialPlace(f"{study.study_name}#{number}", folder)


def _train(
    study: optuna.Study,
    role: str,
    config: Experiment,
    seed: int,
    digest: str,
    cache: TrainerCache,
    studies: str | Path,
) -> float:
    """Train ``config`` (its seed set) as one trial of ``study``; its stored value."""
    cache.ready(config)  # before the trial: a bad target leaves none
    with warnings.catch_warnings():  # ask/tell on a heartbeat store: reruns are supervised here
        warnings.simplefilter("ignore", UserWarning)
        trial = study.ask()
    for key, value in {
        TrialAttr.ROLE: role,
        TrialAttr.SEED: seed,
        TrialAttr.CONFIG_HASH: digest,
    }.items():
        trial.set_user_attr(key, value)
    started = time.perf_counter()
    try:
        with interrupting_training():
            result = cache.train(config, Reports.of(config), _place(study, trial.number, studies))
        folder = artifacts_dir(Path(studies).resolve())
        folder.mkdir(parents=True, exist_ok=True)
        artifacts = FileSystemArtifactStore(str(folder))
        record_result(trial, result, time.perf_counter() - started, artifacts)  # as a trial's
    except BaseException:  # a failure, or a stop signal: the rerun is FAIL, never left RUNNING
        study.tell(trial, state=TrialState.FAIL)
        raise
    if result.diverged:  # recorded like a round's infeasible trial, valued at the worst
        value = infeasible_value(config.metric, result)
        trial.set_constraint(INFEASIBLE, 1.0)
        study.tell(trial, value)
        log.info("%s seed %d diverged: %s", role, seed, result.divergence_reason)
        return value
    assert result.objective is not None
    trial.set_constraint(INFEASIBLE, 0.0)
    study.tell(trial, result.objective)
    log.info("%s seed %d: %s=%.4g", role, seed, config.metric, result.objective)
    return result.objective
