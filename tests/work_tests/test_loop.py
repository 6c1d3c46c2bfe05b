"""Running a round: budgets met, outcomes recorded, failures survived, interrupted runs resumed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import optuna
import pytest
from optuna.artifacts import FileSystemArtifactStore, download_artifact
from optuna.trial import TrialState

from orchestrator.config.experiment import Experiment, builtin_experiment
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.exceptions import ConfigError
from orchestrator.rounds.validate import parse_round
from orchestrator.store.storage import create_storage
from tests.support.experiments import tiny_experiment
from tests.support.rounds import as_experiment, run_in_process

ROOT = Path(__file__).resolve().parents[2]
optuna.logging.set_verbosity(optuna.logging.WARNING)


def a_round(trials: int = 4, **fields) -> RoundConfig:
    base = {
        "name": "r1",
        "goal": "does depth help?",
        "scientific": {"model.depth": [1, 2]},
        "nuisance": {
            "optimizer.lr": {"low": 0.01, "high": 3.0, "log": True},
            "optimizer.momentum": {"low": 0.5, "high": 0.9},
        },
    }
    return RoundConfig(**{**base, **fields}, budget=BudgetConfig(trials_per_study=trials))


def run(tmp_path: Path, raw: RoundConfig, trainer: str, start: Experiment | None = None):
    start = as_experiment(start, trainer)
    storage = create_storage(StorageConfig(url=f"sqlite:///{tmp_path}/tuning.db"))
    rnd = parse_round(raw, start)
    summaries = run_in_process(rnd, start, storage, trainer, tmp_path / "artifacts")
    return summaries, storage


def trials_of(storage, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=storage).get_trials()


def test_each_study_gets_its_budget_with_provenance_and_intermediate_values(tmp_path):
    summaries, storage = run(tmp_path, a_round(), "tests.support.trainers.analytic")
    assert [s.name for s in summaries] == ["r1/model.depth=1", "r1/model.depth=2"]
    for s in summaries:
        trials = trials_of(storage, s.name)
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
        assert all(t.intermediate_values for t in trials)  # optuna-dashboard draws curves
    study = optuna.load_study(study_name="r1/model.depth=2", storage=storage)
    attrs = study.user_attrs
    assert attrs["round"] == "r1" and attrs["goal"] == "does depth help?"
    assert attrs["scientific_point"] == {"model.depth": 2}
    assert attrs["roles"]["nuisance"]["optimizer.lr"] == [{"low": 0.01, "high": 3.0, "log": True}]
    assert (attrs["sampler"], attrs["seed"], attrs["trials_per_study"]) == ("qmc", 0, 4)
    # paired comparison: every depth sees the same quasi-random nuisance points
    by_depth = [[t.params for t in trials_of(storage, s.name)] for s in summaries]
    assert by_depth[0] == by_depth[1]
    assert len({json.dumps(p, sort_keys=True) for p in by_depth[0]}) == 4
    # the analytic objective is |lr - 0.1| + 0.01 * depth: the summary finds its minimum
    best = min(by_depth[0], key=lambda p: abs(p["optimizer.lr"] - 0.1))
    assert summaries[0].best_params == best


def test_a_diverging_trial_is_infeasible_with_its_reason_and_the_round_goes_on(tmp_path):
    summaries, storage = run(
        tmp_path, a_round(trials=8), "tests.support.trainers.diverges_above_1"
    )
    trials = trials_of(storage, "r1/model.depth=1")
    infeasible = [t for t in trials if t.constraints.get("diverged", 0) > 0]
    feasible = [t for t in trials if t.constraints.get("diverged") == 0.0]
    assert infeasible and feasible and len(trials) == 8
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert all(t.params["optimizer.lr"] > 1.0 for t in infeasible)
    assert all(
        t.user_attrs["infeasible_reason"].startswith("training loss exploded") for t in infeasible
    )
    assert all(t.user_attrs["result"]["diverged_step"] == 3 for t in infeasible)
    assert summaries[0].infeasible == len(infeasible)
    assert summaries[0].best_value == min(t.value for t in feasible)  # never an infeasible one


def test_an_exception_in_one_trial_is_recorded_and_the_round_goes_on(tmp_path):
    summaries, storage = run(tmp_path, a_round(trials=6), "tests.support.trainers.raises_above_1")
    for s in summaries:
        trials = trials_of(storage, s.name)
        failed = [t for t in trials if t.state == TrialState.FAIL]
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        assert failed and len(done) == 6  # failures do not eat the budget
        assert all(t.user_attrs["error"].startswith("RuntimeError: boom at lr") for t in failed)
        assert s.failed == len(failed)


def test_a_study_whose_trials_always_fail_is_given_up_on_not_looped(tmp_path):
    summaries, storage = run(tmp_path, a_round(trials=3), "tests.support.trainers.always_raises")
    assert all(s.finished == 0 and s.failed == 3 for s in summaries)


FAILING_ROUND = """
import sys
from pathlib import Path
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.rounds.validate import parse_round
from orchestrator.store.storage import create_storage
from orchestrator.config.experiment import builtin_experiment
from tests.support import trainers
from tests.support.rounds import run_in_process
tmp = Path(sys.argv[1])
raw = RoundConfig(name="r", nuisance={"optimizer.lr": {"low": 0.01, "high": 1.0, "log": True}},
                  budget=BudgetConfig(trials_per_study=3))
start = builtin_experiment()
storage = create_storage(StorageConfig(url=f"sqlite:///{tmp}/t.db"))
run_in_process(parse_round(raw, start), start, storage,
               "tests.support.trainers.raises_holding_memory", tmp / "a")
print(trainers.ALIVE_AT_START)
"""  # fmt: skip


def test_a_failed_trials_memory_is_freed_before_the_next_trial_starts(tmp_path):
    """The failed run's exception (whose traceback holds its model, optimizer and batches)
    must not outlive the trial, or the next trial starts with that memory still taken.
    In a fresh process: pytest's own log capture keeps every logged exception alive."""
    done = subprocess.run(
        [sys.executable, "-c", FAILING_ROUND, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[False, False, False]"


def test_rerunning_runs_nothing_twice_and_a_bigger_budget_continues_the_sequence(tmp_path):
    run(tmp_path, a_round(trials=3), "tests.support.trainers.analytic")
    summaries, storage = run(tmp_path, a_round(trials=3), "tests.support.trainers.analytic")
    assert all(len(trials_of(storage, s.name)) == 3 for s in summaries)
    run(tmp_path, a_round(trials=5), "tests.support.trainers.analytic")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _, straight = run(fresh, a_round(trials=5), "tests.support.trainers.analytic")
    for s in summaries:
        resumed = [t.params for t in trials_of(storage, s.name)]
        assert resumed == [t.params for t in trials_of(straight, s.name)]  # same sequence


def test_resuming_from_another_starting_config_is_refused(tmp_path):
    run(tmp_path, a_round(trials=2), "tests.support.trainers.analytic")
    other = builtin_experiment().with_values({"model.width": 64})
    with pytest.raises(ConfigError, match="round.start_from: study r1/model.depth=1 was started"):
        run(tmp_path, a_round(trials=2), "tests.support.trainers.analytic", start=other)


def test_real_training_stores_curves_as_artifacts(tmp_path):
    start = tiny_experiment(steps=120, eval_every=60)  # curves too big to keep inline
    raw = a_round(trials=2, scientific={"model.depth": [2]})
    raw.nuisance = {"optimizer.lr": {"low": 0.05, "high": 0.2, "log": True}}
    summaries, storage = run(tmp_path, raw, "orchestrator.train.fit", start=start)
    (trial, _) = trials_of(storage, "r1/model.depth=2")
    assert trial.state == TrialState.COMPLETE and trial.intermediate_values.keys() == {60, 120}
    assert trial.value == min(trial.intermediate_values.values())
    store = FileSystemArtifactStore(str(tmp_path / "artifacts"))
    out = tmp_path / "result.json"
    download_artifact(
        artifact_store=store,
        file_path=str(out),
        artifact_id=trial.user_attrs["result"]["curves_artifact"],
    )
    result = json.loads(out.read_text())
    assert len(result["curves"]["train_loss"]) == 120 and result["curves"]["eval_step"] == [
        60,
        120,
    ]
    assert result["objective"] == trial.value


def mid_trial(db: Path) -> bool:
    """True once some trial has completed and another is running (in any study).

    Read with plain sqlite3, read-only, so the probe never touches the round's schema."""
    if not db.exists():
        return False
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            states = {state for (state,) in conn.execute("SELECT state FROM trials")}
    except sqlite3.OperationalError:  # tables not created yet, or a write holds the lock
        return False
    return {"COMPLETE", "RUNNING"} <= states


def round_command(tmp_path: Path) -> list[str]:
    return [
        sys.executable, "-m", "orchestrator", "round=round_1",
        f"paths.studies={tmp_path}", "trainer._target_=tests.support.trainers.slow",
        "round.budget.trials_per_study=3",
        "storage.heartbeat_interval=1", "storage.grace_period=2",
    ]  # fmt: skip


def test_a_round_killed_mid_trial_resumes_with_exactly_its_budget(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    db = tmp_path / "tuning.db"
    proc = subprocess.Popen(
        round_command(tmp_path),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not mid_trial(db) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # inside a one-second trial, whatever the machine's speed
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(3)  # past the grace period: the killed trial's heartbeat is stale
    rerun = subprocess.run(
        round_command(tmp_path), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    retried = []
    for depth in (1, 2, 3):
        trials = optuna.load_study(
            study_name=f"round_1/model.depth={depth}", storage=storage
        ).trials
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        assert len(done) == 3  # exactly the budget
        assert len({json.dumps(t.params, sort_keys=True) for t in done}) == 3  # none run twice
        assert not [t for t in trials if t.state == TrialState.RUNNING]
        for t in done:
            if "failed_trial" in t.system_attrs:  # a retry: its original was the killed trial
                (original,) = [o for o in trials if o.number == t.system_attrs["failed_trial"]]
                retried.append((original, t))
    assert len(retried) == 1  # the killed trial, retried exactly once with its own parameters
    original, retry = retried[0]
    assert original.state == TrialState.FAIL and original.params == retry.params
    assert "3/3" in rerun.stdout
