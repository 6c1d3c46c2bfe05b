"""QMC points kept by index: every study of a round gets the same nuisance points, whatever
fails, is retried, interrupted or resumed; a run with no failure gets today's points."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from orchestrator.config.sections import StorageConfig
from orchestrator.rounds.point_index import point_index
from orchestrator.rounds.sampling import QuasiRandomSampler, unit_to_value
from orchestrator.rounds.validate import parse_round
from orchestrator.store.storage import create_storage
from tests.support.cli import ROOT, run_cli
from tests.support.rounds import as_experiment
from tests.work_tests.test_loop import a_round, mid_trial, run, trials_of

STUDIES = ("r1/model.depth=1", "r1/model.depth=2")


def evaluated(storage, name: str) -> dict[int, dict]:
    """The finished trials' params by point index (one trial per index, or it fails)."""
    done = [t for t in trials_of(storage, name) if t.state == TrialState.COMPLETE]
    by_index = {point_index(t): t.params for t in done}
    assert len(by_index) == len(done)  # no point evaluated twice
    return by_index


def test_a_run_without_failures_gets_exactly_todays_points(tmp_path):
    """Trial n evaluates point n of the sequence, as before indices were recorded: the
    campaign benchmark (trainers that never fail) sees the same points as before."""
    raw = a_round(trials=6)
    summaries, storage = run(tmp_path, raw, "tests.support.trainers.analytic")
    rnd = parse_round(raw, as_experiment(None, "tests.support.trainers.analytic"))
    sampler = rnd.sampler()
    assert isinstance(sampler, QuasiRandomSampler)
    for s in summaries:
        for t in trials_of(storage, s.name):
            assert point_index(t) == t.number
            point = sampler.point(t.number)
            assert t.params == {
                name: unit_to_value(point[sampler.coordinate(name)], t.distributions[name])
                for name in t.params
            }


def test_failed_trials_shift_no_point_and_runs_with_the_same_failures_match(tmp_path, monkeypatch):
    """A trial its trainer failed keeps its point (none skipped, none repeated): two runs
    that fail the same points try the same points, and both studies get them (paired)."""
    stored = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.setenv("ORCHESTRATOR_TEST_MARKERS", str(folder))  # fresh markers: same fails
        _, storage = run(folder, a_round(trials=6), "tests.support.trainers.fails_first_attempt")
        stored.append(storage)
    for name in STUDIES:
        first, second = (trials_of(storage, name) for storage in stored)
        assert any(t.state == TrialState.FAIL for t in first)  # some points failed
        tried = [(point_index(t), t.params, t.state) for t in first]
        assert tried == [(point_index(t), t.params, t.state) for t in second]
        assert [index for index, _, _ in tried] == list(range(len(first)))
    assert [t.params for t in trials_of(stored[0], STUDIES[0])] == [
        t.params for t in trials_of(stored[0], STUDIES[1])
    ]


def test_an_earlier_versions_retries_are_never_evaluated_again(tmp_path):
    """A store without indices: trial 1 failed, trial 2 retried its point (the earlier
    version's ``failed_trial``), trial 3 took point 3. Resumed, new trials go on at 4."""
    space = {"x": FloatDistribution(0.0, 1.0)}
    sampler = QuasiRandomSampler(search_space=space, seed=0)
    value = {n: unit_to_value(sampler.point(n)[0], space["x"]) for n in range(8)}
    study = optuna.create_study(sampler=sampler)
    earlier = [
        (TrialState.COMPLETE, 0, {}),
        (TrialState.FAIL, 1, {}),
        (TrialState.COMPLETE, 1, {"failed_trial": 1, "retry_history": [1]}),
        (TrialState.COMPLETE, 3, {}),
    ]
    for state, n, attrs in earlier:
        study.add_trial(
            optuna.create_trial(
                state=state,
                value=0.0 if state == TrialState.COMPLETE else None,
                params={"x": value[n]},
                distributions=space,
                system_attrs=attrs,
            )
        )
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=2)
    new = study.trials[4:]
    assert [point_index(t) for t in new] == [4, 5]
    assert [t.params["x"] for t in new] == [value[4], value[5]]
    assert [point_index(t) for t in study.trials[:4]] == [0, 1, 1, 3]


ROUND = (
    "round=round_1",
    "stage=work",
    "round.budget.trials_per_study=3",
    "round.budget.racing=false",
)


def work_command(studies: Path, trainer: str) -> list[str]:
    return [
        sys.executable, "-m", "orchestrator", *ROUND,
        f"paths.studies={studies}", f"trainer._target_={trainer}",
    ]  # fmt: skip


def test_a_round_stopped_mid_trial_and_resumed_evaluates_the_clean_runs_points(tmp_path):
    """SIGTERM fails the running trial and queues it again; the resumed round evaluates
    exactly the points of a round that was never stopped (before: one point skipped)."""
    clean = run_cli(tmp_path / "clean", *ROUND, "trainer._target_=tests.support.trainers.analytic")
    assert clean.returncode == 0, clean.stderr
    studies = tmp_path / "stopped"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = work_command(studies, "tests.support.trainers.slow")
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while not mid_trial(studies / "tuning.db") and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    resumed = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    stopped_store = create_storage(StorageConfig(url=f"sqlite:///{studies}/tuning.db"))
    clean_store = create_storage(StorageConfig(url=f"sqlite:///{tmp_path}/clean/tuning.db"))
    interrupted = 0
    for depth in (1, 2, 3):
        name = f"round_1/model.depth={depth}"
        interrupted += sum("interrupted" in t.user_attrs for t in trials_of(stopped_store, name))
        assert evaluated(stopped_store, name) == evaluated(clean_store, name)
        assert sorted(evaluated(stopped_store, name)) == [0, 1, 2]
    assert interrupted == 1
