"""Rounds that build on each other: an exploitation round starts from the earlier trials
that fit it, in a real SQLite store, with a real (analytic) trainer."""

from __future__ import annotations

import json
from pathlib import Path

import optuna

from orchestrator.config.experiment import Experiment
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.promotion.candidate import find_candidate
from orchestrator.rounds.validate import parse_round
from orchestrator.store.storage import create_storage
from tests.support.experiments import tiny_experiment
from tests.support.rounds import as_experiment, run_in_process

TRAINER = "tests.support.trainers.analytic"
NUISANCE = {
    "optimizer.lr": {"low": 0.01, "high": 3.0, "log": True},
    "optimizer.momentum": {"low": 0.5, "high": 0.9},
}
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _run(tmp_path: Path, raw: RoundConfig, start: Experiment):
    storage = create_storage(StorageConfig(url=f"sqlite:///{tmp_path}/tuning.db"))
    rnd = parse_round(raw, start)
    return rnd, storage, run_in_process(rnd, start, storage, TRAINER, tmp_path / "artifacts")


def _exploration(trials: int = 6) -> RoundConfig:
    return RoundConfig(
        name="r1",
        goal="depth?",
        scientific={"model.depth": [1, 2]},
        nuisance=NUISANCE,
        budget=BudgetConfig(trials_per_study=trials, sampler="qmc"),
    )


def _exploitation(name: str = "r2", fixed: dict | None = None, sampler: str = "tpe"):
    return RoundConfig(
        name=name,
        goal="the best at depth 2",
        nuisance=NUISANCE,
        fixed={"model.depth": 2, **(fixed or {})},
        budget=BudgetConfig(trials_per_study=5, sampler=sampler, seed=1),
    )


def _trials(storage, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=storage).get_trials()


def test_an_exploitation_round_starts_from_the_winners_trials_and_runs_its_own_budget(tmp_path):
    start = as_experiment(tiny_experiment(), TRAINER)
    _run(tmp_path, _exploration(), start)
    rnd, storage, (summary,) = _run(tmp_path, _exploitation(), start)
    trials = _trials(storage, "r2")
    carried = [t for t in trials if "carried_from" in t.user_attrs]
    own = [t for t in trials if "carried_from" not in t.user_attrs]
    # the depth-2 study's six trials fit (depth 2 is now fixed); depth 1's do not
    assert len(carried) == 6
    assert {t.user_attrs["carried_from"].split("#")[0] for t in carried} == {"r1/model.depth=2"}
    depth_2 = {json.dumps(t.params, sort_keys=True) for t in _trials(storage, "r1/model.depth=2")}
    assert {json.dumps(t.params, sort_keys=True) for t in carried} == depth_2
    assert len(own) == 5 and summary.finished == 5 and summary.carried == 6  # its own budget
    assert not {json.dumps(t.params, sort_keys=True) for t in own} & depth_2  # nothing re-run
    study = optuna.load_study(study_name="r2", storage=storage)
    assert study.user_attrs["carried"] == 6
    # the candidate is a trial the round ran, never an earlier round's
    candidate = find_candidate(rnd, start, storage, rnd.promotion)
    assert candidate.trial in {t.number for t in own}


def test_a_resumed_round_carries_nothing_twice(tmp_path):
    start = as_experiment(tiny_experiment(), TRAINER)
    _run(tmp_path, _exploration(), start)
    _run(tmp_path, _exploitation(), start)
    _, storage, (summary,) = _run(tmp_path, _exploitation(), start)  # run again: resumed
    assert len(_trials(storage, "r2")) == 11 and summary.carried == 6 and summary.finished == 5


def test_trials_with_another_fixed_value_or_outside_the_range_are_not_carried(tmp_path):
    start = as_experiment(tiny_experiment(), TRAINER)
    _run(tmp_path, _exploration(), start)
    # another training length: none of round 1's trials is one this round could run
    _, storage, _ = _run(tmp_path, _exploitation("longer", {"train.steps": 90}), start)
    assert not any("carried_from" in t.user_attrs for t in _trials(storage, "longer"))
    # a narrower learning-rate range: only the trials inside it
    narrow = _exploitation("narrow")
    narrow.nuisance = {**NUISANCE, "optimizer.lr": {"low": 0.1, "high": 3.0, "log": True}}
    _, storage, _ = _run(tmp_path, narrow, start)
    carried = [t for t in _trials(storage, "narrow") if "carried_from" in t.user_attrs]
    inside = [t for t in _trials(storage, "r1/model.depth=2") if t.params["optimizer.lr"] >= 0.1]
    assert len(carried) == len(inside) and all(t.params["optimizer.lr"] >= 0.1 for t in carried)


def test_quasi_random_rounds_carry_nothing_so_their_studies_stay_paired(tmp_path):
    start = as_experiment(tiny_experiment(), TRAINER)
    _run(tmp_path, _exploration(), start)
    _, storage, _ = _run(tmp_path, _exploitation("again", sampler="qmc"), start)
    trials = _trials(storage, "again")
    assert len(trials) == 5 and not any("carried_from" in t.user_attrs for t in trials)
