"""Rounds on a real SLURM cluster through ``hydra/launcher=slurm``, on PostgreSQL.

The cluster is the one-node cluster scripts/slurm-local.sh starts (``make slurm``;
.ci/run starts it and sets ``ORCHESTRATOR_REQUIRE_SLURM=1``, so these tests cannot skip
in CI). Every test drives the real command line; jobs run the test trainer ``timed``.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from orchestrator.work.slurm_resources import (
    Request,
    parse_sinfo_line,
    read_partitions,
    unsatisfiable,
)
from tests.support import scale_out as h
from tests.support import slurm as s

ROUND = ["stage=work", "round=round_1", "trainer._target_=tests.support.trainers.timed"]


@pytest.fixture
def pg_store(tmp_path):
    h.require_postgres()
    store = h.make_store("postgres", tmp_path)
    yield store
    store.drop()


def slurm_command(store: h.Store, *args: str, jobs: int = 2) -> list[str]:
    sweep = store.workdir / "multirun"
    return h.command(
        store, *ROUND, f"worker=range(0,{jobs})", "hydra/launcher=slurm",
        f"hydra.sweep.dir={sweep}", "hydra.launcher.timeout_min=10", *args, multirun=True,
    )  # fmt: skip


def test_sinfo_lines_are_read_and_a_request_is_checked_against_every_partition():
    cpu = parse_sinfo_line("debug*|2|21694|(null)|infinite|1")
    gpu = parse_sinfo_line("gpu|64|515000|gpu:a100:4(S:0-1)|2-00:00:00|8")
    assert cpu is not None and cpu.default and (cpu.cpus, cpu.gpus, cpu.minutes) == (2, 0, None)
    assert gpu is not None and (gpu.gpus, gpu.minutes, gpu.nodes) == (4, 2880, 8)
    fits = Request(partition=None, cpus=1, mem_mb=4096, gpus=0, minutes=240)
    assert unsatisfiable(fits, [cpu, gpu]) is None
    one_gpu = Request(partition=None, cpus=1, mem_mb=4096, gpus=1, minutes=240)
    message = unsatisfiable(one_gpu, [cpu, gpu])
    assert message is not None and "gpus_per_node = 1 > 0" in message
    assert "gpu: 8 node(s) of 64 CPUs, 503 GB, 4 GPUs, 2880 min" in message
    assert unsatisfiable(Request("gpu", 8, 32768, 1, 240), [cpu, gpu]) is None
    missing = unsatisfiable(Request("big", 1, None, 0, 10), [cpu, gpu])
    assert missing is not None and "partition=big: no such partition" in missing


def test_a_request_no_partition_can_run_is_one_error_and_nothing_is_submitted(tmp_path):
    s.require_slurm()
    partitions = read_partitions()
    assert partitions, "sinfo lists the cluster's partitions"
    store = h.make_store("sqlite", tmp_path)
    too_many = max(p.cpus for p in partitions) + 1
    proc = h.run(store, slurm_command(store, f"hydra.launcher.cpus_per_task={too_many}"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert f"cpus_per_task x tasks_per_node = {too_many} >" in line
    assert "Traceback" not in proc.stderr
    assert not (store.workdir / "multirun").exists()  # nothing submitted, nothing left


def test_a_round_on_two_slurm_jobs_completes_every_trial_once_with_threads_from_slurm(pg_store):
    """The scaling-out page's command on the one-node cluster: every trial once, each job's
    log holding its trial lines, torch threads from the allocation, progress shown."""
    s.require_slurm()
    store = pg_store
    threads = store.workdir / "threads.log"
    store.env["ORCHESTRATOR_TEST_THREADS_LOG"] = str(threads)
    t0 = time.monotonic()
    proc = h.run(store, slurm_command(store, "round.budget.trials_per_study=2"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    audit = h.audit(store, "round_1")
    assert set(audit.budget_per_study.values()) == {2} and len(audit.budget_per_study) == 3
    assert (audit.duplicated, audit.running, audit.waiting, audit.lost) == (0, 0, 0, 0)
    assert audit.failed == []
    sweep = store.workdir / "multirun"
    tasks = s.array_tasks(sweep)
    assert len(tasks) == 2
    assert set(s.wait_for_states(tasks).values()) == {("COMPLETED", "0:0")}
    logs = s.job_logs(sweep)
    assert logs.count("[worker 0] round_1/") + logs.count("[worker 1] round_1/") == 6
    assert set(threads.read_text().split()) == {"1"}  # cpus_per_task: 1, on a 2-CPU node
    # the submitting terminal followed the round in the store while the jobs ran
    assert "round_1: 6/6 trials done in 3 studies, 0 running, 0 failed; best val_error=" in (
        proc.stdout + proc.stderr
    )
    print(f"2 SLURM jobs, 6 trials: {time.monotonic() - t0:.0f} s")


UNREACHABLE = [
    "storage=postgres",
    "storage.url=postgresql+psycopg2://nobody@127.0.0.1:9/nothing",  # port 9: refused
]
ALL_FAIL = ["trainer._target_=tests.support.trainers.always_raises"]


@pytest.mark.parametrize(
    "fault, overrides, reason",
    [
        ("store unreachable", UNREACHABLE, "Connection refused"),
        ("every trial failed", ALL_FAIL, "unfinished: round_1/model.depth=1"),
    ],
)
def test_a_failed_job_exits_non_zero_in_slurm_with_the_reason_in_its_log_and_terminal(
    tmp_path, fault, overrides, reason
):
    """Hydra's run_job catches a task's error into its result, so such a job used to end
    ``COMPLETED 0:0`` in sacct with nothing in its log."""
    s.require_slurm()
    store = h.make_store("sqlite", tmp_path)
    store.overrides = [o for o in store.overrides if not o.startswith("storage=")]
    cmd = slurm_command(store, "round.budget.trials_per_study=1", *overrides, jobs=1)
    proc = h.run(store, cmd)
    assert proc.returncode == 1, proc.stderr[-2000:]
    sweep = store.workdir / "multirun"
    (task,) = s.array_tasks(sweep)
    state, code = s.wait_for_states([task])[task]
    assert (state, code) == ("FAILED", "1:0")
    assert reason in s.job_logs(sweep)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"SLURM job {task}: " in errors[0] and reason in errors[0]
    assert "Traceback" not in proc.stderr
    assert "run the same command again to resume" in proc.stderr


def test_scancel_of_a_job_mid_trial_fails_its_trial_and_the_rerun_meets_the_budget(pg_store):
    s.require_slurm()
    store = pg_store
    cmd = slurm_command(store, "round.budget.trials_per_study=3")
    env = h.env_for(store, trial_seconds=2.0, chaos="")
    proc = subprocess.Popen(
        cmd, cwd=h.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    sweep = store.workdir / "multirun"
    both_jobs_mid_trial(store)
    tasks = s.array_tasks(sweep)
    cancelled = next(t for t in tasks if t.endswith("_1"))
    subprocess.run(["scancel", cancelled], check=True)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode != 0
    assert cancelled in err  # the command names the job that did not finish
    assert s.wait_for_states([cancelled])[cancelled][0] == "CANCELLED"
    stopped = h.audit(store, "round_1")
    assert stopped.running == 0
    assert "interrupted by SIGTERM; queued again" in {
        t.user_attrs.get("error") for t in stopped.failed
    }
    rerun = h.run(store, cmd, trial_seconds=0.5, timeout=300)  # the same command resumes
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    final = h.audit(store, "round_1")
    assert set(final.budget_per_study.values()) == {3}
    assert (final.duplicated, final.running, final.waiting, final.lost) == (0, 0, 0, 0)


def test_a_job_requeued_mid_trial_is_waited_for_and_its_trial_is_not_a_failure(pg_store):
    """``scontrol requeue`` (what a time limit or preemption does through submitit): the
    trial is interrupted by SIGTERM and queued again, the job's interrupted run leaves a
    result, yet the command waits for the run that follows and ends 0 with the budget met.
    (The cluster script sets cred_expire=30: a requeued job waits 30 s, not 120 s.)"""
    s.require_slurm()
    store = pg_store
    cmd = slurm_command(store, "round.budget.trials_per_study=4", "round.budget.max_failures=1")
    env = h.env_for(store, trial_seconds=2.0, chaos="")
    proc = subprocess.Popen(
        cmd, cwd=h.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    both_jobs_mid_trial(store)
    requeued = next(t for t in s.array_tasks(store.workdir / "multirun") if t.endswith("_1"))
    subprocess.run(["scontrol", "requeue", requeued], check=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert s.wait_for_states([requeued])[requeued] == ("COMPLETED", "0:0")
    audit = h.audit(store, "round_1")
    assert set(audit.budget_per_study.values()) == {4}  # max_failures 1 did not give up
    assert (audit.duplicated, audit.running, audit.waiting, audit.lost) == (0, 0, 0, 0)
    assert [t.user_attrs.get("interrupted") for t in audit.failed] == ["SIGTERM"]
    assert "round_1: 12/12 trials done in 3 studies, 0 running, 0 failed" in out + err


def both_jobs_mid_trial(store: h.Store) -> None:
    """Wait until two trials have finished (both jobs run), then half a second more: each
    job is inside its next trial (the trainer sleeps 2 s a trial)."""
    finished = store.workdir / "finished.jsonl"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and (
        not finished.exists() or len(finished.read_text().splitlines()) < 2
    ):
        time.sleep(0.2)
    time.sleep(0.5)
