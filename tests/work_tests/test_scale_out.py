"""Scale-out under faults, against real stores: SQLite, the journal file and PostgreSQL.

Each scenario drives the real command line in subprocesses (tests/support/scale_out.py;
``make stress`` prints the same scenarios as a table). PostgreSQL runs against the server
``scripts/postgres-local.sh`` starts (``.ci/run`` runs it); without one those cases skip
locally, and fail in CI, where ``ORCHESTRATOR_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import pytest

from tests.support import scale_out as h


def one_study_round(name: str, trainer: str):
    """A round of one study (``<name>/model.depth=2``), 3 trials over the learning rate."""
    from orchestrator.config.experiment import builtin_experiment
    from orchestrator.config.round import BudgetConfig, RoundConfig
    from orchestrator.rounds.validate import parse_round

    start = builtin_experiment(trainer=trainer)
    raw = RoundConfig(
        name=name,
        scientific={"model.depth": [2]},
        nuisance={"optimizer.lr": {"low": 0.01, "high": 1.0, "log": True}},
        budget=BudgetConfig(trials_per_study=3),
    )
    return start, parse_round(raw, start)


@pytest.fixture(params=h.STORES)
def store(request, tmp_path):
    if request.param == "postgres":
        h.require_postgres()
    s = h.make_store(request.param, tmp_path / request.param)
    yield s
    s.drop()


def test_eight_workers_fifty_trials_each_lose_nothing_and_repeat_no_point(store):
    row, audit = h.load(store, workers=8, per_worker=50)
    assert audit.complete == 400 and set(audit.budget_per_study.values()) == {200}
    assert (row.lost, row.duplicated, row.lock_errors, row.running_left) == (0, 0, 0, 0)
    assert row.ok


def test_a_sigkilled_worker_trial_is_retried_once_and_the_round_has_its_budget(store):
    row, audit = h.sigkill(store, workers=4, per_study=8)
    assert set(audit.budget_per_study.values()) == {8}  # exactly the budget, every study
    (killed,) = audit.failed
    assert audit.retries == 1  # the killed trial, re-run once with its own parameters
    assert (row.lost, row.duplicated, row.running_left, audit.waiting) == (0, 0, 0, 0)
    assert row.ok


def test_sigterm_fails_the_running_trial_with_the_reason_and_leaves_none_running(store):
    row, stopped, final = h.sigterm(store)
    assert stopped.running == 0
    assert [t.user_attrs["error"] for t in stopped.failed] == [
        "interrupted by SIGTERM; queued again"
    ]
    assert stopped.waiting == 1  # its point is queued, and the re-run took it
    assert set(final.budget_per_study.values()) == {3} and final.retries == 1
    assert row.ok


def test_a_joblib_multirun_with_a_raising_and_a_killed_job_finishes_when_rerun(store):
    row, audit, codes = h.multirun(store, jobs=4, per_study=6)
    assert codes[0] != 0 and codes[-1] == 0
    assert set(audit.budget_per_study.values()) == {6}
    assert (row.lost, row.duplicated, row.running_left, audit.waiting) == (0, 0, 0, 0)
    assert row.ok


def test_a_password_typed_into_the_url_is_in_no_log_report_or_saved_config(tmp_path):
    """The worst case: the password on the command line (README says: use PGPASSWORD)."""
    h.require_postgres()
    store = h.make_store("postgres", tmp_path)
    password = h.pg_settings()["password"]
    url = f"storage.url={h._pg_url(store.database, with_password=True)}"
    store.env = {}  # no PGPASSWORD: the URL's password is the only one
    store.overrides = [o for o in store.overrides if not o.startswith("storage.url=")] + [url]
    try:
        outputs = []
        for args, multirun in (
            (["round=round_1", "round.budget.trials_per_study=2", "worker=0,1",
              "trainer._target_=tests.support.trainers.timed", "stage=work"], True),
            (["round=round_1", "round.budget.trials_per_study=2",
              "trainer._target_=tests.support.trainers.timed"], False),  # analyze, promote
        ):  # fmt: skip
            proc = h.run(store, h.command(store, *args, multirun=multirun))
            assert proc.returncode == 0, proc.stderr[-2000:]
            outputs += [proc.stdout, proc.stderr]
        assert "***@127.0.0.1" in "".join(outputs)  # the URL was printed, redacted
        written = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert any(p.name == "overrides.yaml" for p in written)
        assert any(p.name == "multirun.yaml" for p in written)
        assert any(p.name == "report.html" for p in written)
        leaks = [str(p) for p in written if password.encode() in p.read_bytes()]
        assert leaks == [] and not any(password in out for out in outputs)
    finally:
        store.drop()


def test_a_preemption_exit_mid_trial_fails_the_trial_queues_it_and_still_exits(
    tmp_path, monkeypatch
):
    """submitit's preemption handler calls sys.exit inside the trial: without handling, the
    trial would stay RUNNING (reliability.md 1.5); the requeued job must find it queued."""
    import optuna
    from optuna.trial import TrialState

    from orchestrator.config.sections import StorageConfig
    from orchestrator.store.storage import create_storage
    from orchestrator.trainers.signals import StopSignals
    from orchestrator.work.loop import WorkerOptions, run_round

    monkeypatch.setenv("ORCHESTRATOR_TEST_CHAOS_DIR", str(tmp_path))
    start, rnd = one_study_round("p", "tests.support.trainers.exits_once")
    storage = create_storage(StorageConfig(url=f"sqlite:///{tmp_path}/t.db"))
    options = WorkerOptions(
        artifacts_dir=tmp_path / "a",
        progress=False,
        stop=StopSignals(),
    )
    with pytest.raises(SystemExit):
        run_round(rnd, start, storage, options)
    trials = optuna.load_study(study_name="p/model.depth=2", storage=storage).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert trials[0].user_attrs["error"].startswith("process exiting (SystemExit -1)")
    assert trials[1].params == trials[0].params
    run_round(rnd, start, storage, options)  # the requeued job
    trials = optuna.load_study(study_name="p/model.depth=2", storage=storage).trials
    assert [t.state for t in trials].count(TrialState.COMPLETE) == 3
    assert trials[1].state == TrialState.COMPLETE and trials[1].params == trials[0].params


def test_a_trial_interrupted_twice_is_retried_again_and_is_not_counted_as_a_failure(
    store, tmp_path, monkeypatch
):
    """A SLURM job requeued twice (time limit, preemption) interrupts its trial's point
    twice: it is queued again each time, and ``max_failures: 1`` does not give the study up
    (issue 28: the second interruption was not retried and counted as a failure)."""
    import dataclasses

    import optuna
    from optuna.trial import TrialState

    from orchestrator.config.round import BudgetConfig, RoundConfig
    from orchestrator.rounds.validate import parse_round
    from orchestrator.trainers.signals import StopSignals
    from orchestrator.work.loop import WorkerOptions, run_round

    monkeypatch.setenv("ORCHESTRATOR_TEST_CHAOS_DIR", str(tmp_path))
    start, _ = one_study_round("p", "tests.support.trainers.exits_twice")
    raw = RoundConfig(
        name="p", scientific={"model.depth": [2]},
        nuisance={"optimizer.lr": {"low": 0.01, "high": 1.0, "log": True}},
        budget=BudgetConfig(trials_per_study=3, max_failures=1),
    )  # fmt: skip
    rnd = parse_round(raw, start)
    storage = store.open()  # every kind: the RDB stores count interrupted trials in SQL
    options = WorkerOptions(artifacts_dir=tmp_path / "a", progress=False, stop=StopSignals())
    for _ in range(2):  # the job, then its first requeue: each exits mid-trial
        with pytest.raises(SystemExit):
            run_round(rnd, start, storage, dataclasses.replace(options, stop=StopSignals()))
    summaries = run_round(rnd, start, storage, options)  # the second requeue finishes
    trials = optuna.load_study(study_name="p/model.depth=2", storage=storage).trials
    states = [t.state for t in trials]
    assert states[:2] == [TrialState.FAIL, TrialState.FAIL]
    assert states.count(TrialState.COMPLETE) == 3 and TrialState.WAITING not in states
    assert trials[1].params == trials[0].params == trials[2].params  # the same point, thrice
    assert trials[2].state == TrialState.COMPLETE
    assert [t.user_attrs["interrupted"] for t in trials[:2]] == ["SystemExit", "SystemExit"]
    assert summaries[0].finished == 3


def test_hydras_submitit_launcher_runs_worker_jobs_to_the_budget(tmp_path):
    """``hydra/launcher=submitit_local``: the SLURM launcher's code path on one machine."""
    store = h.make_store("sqlite", tmp_path)
    proc = h.run(store, h.command(
        store, "stage=work", "round=round_1", "worker=0,1", "round.budget.trials_per_study=3",
        "trainer._target_=tests.support.trainers.timed", "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=5", multirun=True,
    ))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    audit = h.audit(store, "round_1")
    assert set(audit.budget_per_study.values()) == {3}
    assert (audit.duplicated, audit.running, audit.lost) == (0, 0, 0)


def test_sigterm_to_the_parent_of_local_workers_stops_them_all_with_no_trial_running(tmp_path):
    import signal
    import subprocess
    import time

    store = h.make_store("sqlite", tmp_path)
    cmd = h.command(
        store, "stage=work", "round=round_1", "round.budget.trials_per_study=10",
        "round.budget.workers=2", "trainer._target_=tests.support.trainers.timed",
    )  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=h.ROOT, env=h.env_for(store, 1.0, ""), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    finished = tmp_path / "finished.jsonl"
    deadline = time.time() + 120
    while (not finished.exists() or len(finished.read_text().splitlines()) < 2) and (
        time.time() < deadline
    ):
        time.sleep(0.2)
    time.sleep(0.5)  # both workers are mid-trial
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    audit = h.audit(store, "round_1")
    assert audit.running == 0
    reasons = {t.user_attrs.get("error") for t in audit.failed}
    assert reasons == {"interrupted by SIGTERM; queued again"} and audit.waiting == len(
        audit.failed
    )
    assert "stopped by SIGTERM" in out + err


def test_a_locked_store_during_a_trial_is_logged_retried_and_the_round_finishes(
    tmp_path, monkeypatch, caplog
):
    """A real "database is locked" (another connection holds SQLite's write lock for longer
    than the busy timeout) while a trial is recorded: logged, the trial failed with the
    reason and re-queued once, the round finishes with its budget."""
    import logging

    import optuna
    from optuna.trial import TrialState

    from orchestrator.config.sections import StorageConfig
    from orchestrator.store.storage import create_storage
    from orchestrator.work.loop import WorkerOptions, WorkerStats, run_round

    db = tmp_path / "t.db"
    monkeypatch.setenv("ORCHESTRATOR_TEST_CHAOS_DIR", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATOR_TEST_DB", str(db))
    monkeypatch.setenv("ORCHESTRATOR_TEST_LOCK_SECONDS", "1.5")
    start, rnd = one_study_round("l", "tests.support.trainers.locks_the_store_once")
    storage = create_storage(
        StorageConfig(url=f"sqlite:///{db}", busy_timeout=0.2, heartbeat_interval=None)
    )
    stats = WorkerStats()
    options = WorkerOptions(
        artifacts_dir=tmp_path / "a",
        progress=False,
    )
    with caplog.at_level(logging.WARNING, logger="orchestrator.work.faults"):
        run_round(rnd, start, storage, options, stats=stats)
    assert stats.storage_errors >= 1
    assert any("storage error (1/5 in a row)" in r.message for r in caplog.records)
    trials = optuna.load_study(study_name="l/model.depth=2", storage=storage).trials
    assert [t.state for t in trials].count(TrialState.COMPLETE) == 3
    (failed,) = [t for t in trials if t.state == TrialState.FAIL]
    assert "database is locked" in failed.user_attrs["error"]  # the cause, not Optuna's mask
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == failed.number]
    assert retry.state == TrialState.COMPLETE and retry.params == failed.params
