"""The one-node SLURM cluster of the SLURM tests (scripts/slurm-local.sh; .ci/run starts it).

Without a cluster the SLURM tests skip locally and fail in CI, where
``ORCHESTRATOR_REQUIRE_SLURM=1``, as the PostgreSQL tests do with their server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest


def slurm_unavailable() -> str | None:
    """Why no SLURM job can run here, or None when one can (a node idle or partly used)."""
    missing = [c for c in ("sinfo", "sbatch", "sacct", "scancel") if shutil.which(c) is None]
    if missing:
        return f"no SLURM here ({', '.join(missing)} missing); run scripts/slurm-local.sh"
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        return "sinfo does not answer; run scripts/slurm-local.sh"
    states = set(proc.stdout.split())
    if proc.returncode or not states & {"idle", "mix"}:
        return f"no SLURM node free ({proc.stderr.strip() or states}); run scripts/slurm-local.sh"
    return None


def require_slurm() -> None:
    """Skip the test without a cluster, unless ORCHESTRATOR_REQUIRE_SLURM=1 (CI): then fail."""
    reason = slurm_unavailable()
    if reason:
        if os.environ.get("ORCHESTRATOR_REQUIRE_SLURM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def array_tasks(sweep_dir: Path) -> list[str]:
    """The SLURM ids of the sweep's jobs (``<array>_<index>``, or ``<id>`` for a sweep of
    one job), from submitit's folders: one per job, holding its pickled task."""
    folder = sweep_dir / ".submitit"
    if not folder.is_dir():
        return []
    return sorted(p.parent.name for p in folder.glob("*/*_submitted.pkl"))


def job_states(job_ids: list[str]) -> dict[str, tuple[str, str]]:
    """``sacct``'s state and exit code (``1:0``) of each job (the allocation's line)."""
    if not job_ids:
        return {}
    proc = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-o", "JobID,State,ExitCode", "-j", ",".join(job_ids)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    states = {}
    for line in proc.stdout.splitlines():
        job, state, code = line.split("|")
        states[job] = (state.split()[0], code)
    return states


def wait_for_states(job_ids: list[str], timeout: float = 60) -> dict[str, tuple[str, str]]:
    """The jobs' states once none is PENDING or RUNNING (sacct lags the end by a moment)."""
    deadline = time.monotonic() + timeout
    states = job_states(job_ids)
    while time.monotonic() < deadline and (
        len(states) < len(job_ids) or any(s in ("PENDING", "RUNNING") for s, _ in states.values())
    ):
        time.sleep(1)
        states = job_states(job_ids)
    return states


def job_logs(sweep_dir: Path) -> str:
    """Every job's stdout and stderr log, concatenated."""
    folder = sweep_dir / ".submitit"
    return "".join(p.read_text() for p in sorted(folder.glob("*/*_log.*")))
