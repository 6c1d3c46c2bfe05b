"""Scale-out under faults, against real stores: SQLite, the journal file and PostgreSQL.

Each scenario drives the real command line in subprocesses (tests/scale_out/harness.py;
``make stress`` prints the same scenarios as a table). PostgreSQL runs against the server
``scripts/postgres-local.sh`` starts (``.ci/run`` runs it); without one those cases skip
locally, and fail in CI, where ``ORCHESTRATOR_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import os

import pytest

from tests.scale_out import harness as h


@pytest.fixture(params=h.STORES)
def store(request, tmp_path):
    if request.param == "postgres":
        reason = h.postgres_unavailable()
        if reason:
            if os.environ.get("ORCHESTRATOR_REQUIRE_POSTGRES") == "1":
                pytest.fail(reason)
            pytest.skip(reason)
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
        "interrupted by SIGTERM; retried once"
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
    reason = h.postgres_unavailable()
    if reason:
        if os.environ.get("ORCHESTRATOR_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    store = h.make_store("postgres", tmp_path)
    password = h.pg_settings()["password"]
    url = f"storage.url={h._pg_url(store.database, with_password=True)}"
    store.env = {}  # no PGPASSWORD: the URL's password is the only one
    store.overrides = [o for o in store.overrides if not o.startswith("storage.url=")] + [url]
    try:
        outputs = []
        for args, multirun in (
            (["round=round_1", "round.budget.trials_per_study=2", "worker=0,1",
              "trainer._target_=tests.trainers.timed", "stage=work"], True),
            (["round=round_1", "round.budget.trials_per_study=2",
              "trainer._target_=tests.trainers.timed"], False),  # analyze + promote + report
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
