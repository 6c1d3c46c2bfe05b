"""Records built from the store: states, values, params, best steps and curves."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from orchestrator.analysis.load import load_round
from orchestrator.config.experiment import builtin_experiment
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.exceptions import OrchestratorError
from orchestrator.rounds.validate import parse_round
from orchestrator.store.storage import create_storage
from tests.support.experiments import tiny_experiment
from tests.support.rounds import as_experiment, run_in_process

optuna.logging.set_verbosity(optuna.logging.WARNING)


def run(tmp_path: Path, trainer: str, trials: int, steps: int = 20):
    start = as_experiment(tiny_experiment(steps=steps, eval_every=steps // 2), trainer)
    raw = RoundConfig(
        name="r",
        scientific={"model.depth": [1, 2]},
        nuisance={"optimizer.lr": {"low": 0.01, "high": 3.0, "log": True}},
        budget=BudgetConfig(trials_per_study=trials),
    )
    rnd = parse_round(raw, start)
    storage = create_storage(StorageConfig(url=f"sqlite:///{tmp_path}/tuning.db"))
    run_in_process(rnd, start, storage, trainer, tmp_path / "a")
    return rnd, storage


def test_states_values_and_search_space_come_from_the_store(tmp_path):
    rnd, storage = run(tmp_path, "tests.support.trainers.diverges_above_1", trials=8)
    records = load_round(rnd, storage, tmp_path / "a")
    assert [r.name for r in records] == ["r/model.depth=1", "r/model.depth=2"]
    rec = records[0]
    assert rec.direction == "minimize" and rec.metric == "val_error"
    assert rec.search_space == {"optimizer.lr": [{"low": 0.01, "high": 3.0, "log": True}]}
    states = {t.state for t in rec.trials}
    assert states == {"complete", "infeasible"}
    for t in rec.trials:
        if t.state == "infeasible":
            assert t.value is None and t.params["optimizer.lr"] > 1.0
            assert t.infeasible_reason.startswith("training loss exploded")
        else:
            assert t.value is not None and t.best_step == 20  # the analytic trainer: steps
    assert rec.ranked()[0].value == min(t.value for t in rec.complete())


def test_failed_trials_are_failed(tmp_path):
    rnd, storage = run(tmp_path, "tests.support.trainers.raises_above_1", trials=8)
    states = [t.state for t in load_round(rnd, storage, None)[0].trials]
    assert "failed" in states and states.count("complete") == 8


def test_curves_are_read_back_from_the_artifact_store(tmp_path):
    rnd, storage = run(tmp_path, "orchestrator.train.fit", trials=1, steps=120)
    (trial,) = load_round(rnd, storage, tmp_path / "a")[1].trials
    assert trial.curves is not None and len(trial.curves["train_loss"]) == 120
    assert trial.curves["eval_step"] == [60, 120] and trial.max_steps == 120


def test_a_round_that_has_not_run_is_a_clear_error(tmp_path):
    start = builtin_experiment(tiny_experiment())
    rnd = parse_round(RoundConfig(name="never", scientific={"model.depth": [1]}), start)
    storage = create_storage(StorageConfig(url=f"sqlite:///{tmp_path}/tuning.db"))
    with pytest.raises(OrchestratorError, match="never/model.depth=1 is not in the store"):
        load_round(rnd, storage, None)
