"""The pure parts of scale-out: load balancing, GPU pinning, liveness, redaction."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from orchestrator.store.redaction import redact_text
from orchestrator.work.budget import StudyCounts, next_study
from orchestrator.work.gpus import allocated_cpus, cpu_threads, gpu_env, visible_gpus
from orchestrator.work.liveness import is_dead, owner


def test_the_study_with_the_fewest_claimed_slots_is_fed_first():
    counts = [StudyCounts(finished=3, running=1), StudyCounts(finished=2), StudyCounts(finished=4)]
    assert next_study(counts, budget=5, max_failures=5) == 1


def test_running_and_waiting_trials_hold_their_slots_so_the_budget_is_never_exceeded():
    full = [StudyCounts(finished=3, running=1, waiting=1), StudyCounts(finished=4, running=1)]
    assert next_study(full, budget=5, max_failures=5) == 0  # its queued retry is owed
    assert next_study([StudyCounts(finished=4, running=1)], budget=5, max_failures=5) is None


def test_a_queued_retry_runs_even_when_the_study_is_otherwise_full_but_not_once_given_up():
    counts = [StudyCounts(finished=0), StudyCounts(finished=9, waiting=1)]
    assert next_study(counts, budget=10, max_failures=3) == 1
    gave_up = [StudyCounts(finished=9, waiting=1, failed=3)]
    assert next_study(gave_up, budget=10, max_failures=3) is None


def test_workers_share_the_visible_gpus_round_robin_and_keep_the_original_list():
    visible = visible_gpus({"CUDA_VISIBLE_DEVICES": "2,5"})
    assert visible == ["2", "5"]
    assert [gpu_env(i, visible)["CUDA_VISIBLE_DEVICES"] for i in range(4)] == ["2", "5", "2", "5"]
    pinned = {"CUDA_VISIBLE_DEVICES": "5", "ORCHESTRATOR_VISIBLE_GPUS": "2,5"}
    assert visible_gpus(pinned) == ["2", "5"]  # a reused process assigns from the full list
    assert gpu_env(0, []) == {} and visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_cores_are_shared_between_the_workers_of_a_machine():
    cores = len(os.sched_getaffinity(0))
    assert cpu_threads(1) == cores and cpu_threads(cores * 4) == 1


def test_a_live_process_is_alive_and_an_exited_one_is_dead():
    assert not is_dead(owner(0))
    child = subprocess.run(
        [sys.executable, "-c", "from orchestrator.work.liveness import owner; print(owner(3))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    record = ast.literal_eval(child.stdout)  # the dict the child printed
    assert record["index"] == 3 and is_dead(record)
    assert not is_dead({**record, "host": "another-machine"})  # left to the heartbeat
    assert not is_dead(None)


def test_passwords_in_urls_and_query_strings_are_redacted():
    text = "url: postgresql+psycopg2://tuner:s3cr@t@db:5432/x?sslmode=require&password=abc"
    assert redact_text(text) == (
        "url: postgresql+psycopg2://tuner:***@db:5432/x?sslmode=require&password=***"
    )
    assert redact_text("sqlite:///studies/tuning.db") == "sqlite:///studies/tuning.db"


def test_the_overrides_hydra_saves_for_multirun_jobs_are_redacted_too():
    saved = r"- storage.url=postgresql+psycopg2\://tuner\:pw@db\:5432/tuning"
    assert redact_text(saved) == r"- storage.url=postgresql+psycopg2\://tuner\:***@db\:5432/tuning"


def test_a_slurm_jobs_allocation_decides_the_cores_not_the_nodes_affinity_mask():
    """Without cgroups a 1-CPU job still sees every core; torch would start one thread each."""
    env = {"SLURM_CPUS_PER_TASK": "3"}
    assert allocated_cpus(env) == 3 and cpu_threads(1, env) == 3 and cpu_threads(2, env) == 1
    assert allocated_cpus({}) == len(os.sched_getaffinity(0))
