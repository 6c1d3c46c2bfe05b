"""Which GPU a worker uses, and how many CPU threads: decided before CUDA starts.

``CUDA_VISIBLE_DEVICES`` only takes effect before CUDA is initialised in a process
(pytorch#23544), so it is set in the environment a worker is started with (local workers)
or first thing in a Hydra job. Several workers may share one GPU (worker i gets visible
GPU i mod n). The original list is kept in ``ORCHESTRATOR_VISIBLE_GPUS`` so a process that
runs several jobs (joblib's loky reuses its workers) still assigns from the full list.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping

log = logging.getLogger(__name__)

ORIGINAL = "ORCHESTRATOR_VISIBLE_GPUS"
SLURM_CPUS = "SLURM_CPUS_PER_TASK"  # set in a SLURM job that asked for --cpus-per-task


def visible_gpus(environ: Mapping[str, str] | None = None) -> list[str]:
    """The GPUs this machine lets us use, without initialising CUDA."""
    env = os.environ if environ is None else environ
    listed = env.get(ORIGINAL, env.get("CUDA_VISIBLE_DEVICES"))
    if listed is not None:
        return [d.strip() for d in listed.split(",") if d.strip() and d.strip() != "-1"]
    try:
        import torch

        count = torch.cuda._device_count_nvml()  # NVML: counts without creating a context
    except Exception:  # noqa: BLE001 - no NVML, no CUDA build: no GPUs to assign
        return []
    return [str(i) for i in range(max(count, 0))]


def gpu_env(worker: int, visible: list[str]) -> dict[str, str]:
    """The environment that pins ``worker`` to one visible GPU (empty without GPUs)."""
    if not visible:
        return {}
    return {"CUDA_VISIBLE_DEVICES": visible[worker % len(visible)], ORIGINAL: ",".join(visible)}


def allocated_cpus(environ: Mapping[str, str] | None = None) -> int:
    """The CPUs this process may use: a SLURM job's allocation, else the affinity mask.

    SLURM's count comes first because a cluster without cgroup confinement leaves every
    core of the node in the mask: PyTorch would start a thread per core on a 1-CPU
    allocation and the job's trials would run slower than with one thread.
    """
    env = os.environ if environ is None else environ
    slurm = env.get(SLURM_CPUS, "")
    if slurm.isdigit() and int(slurm) > 0:
        return int(slurm)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1


def cpu_threads(workers_on_machine: int, environ: Mapping[str, str] | None = None) -> int:
    """Torch threads per worker: this machine's (or allocation's) cores shared evenly."""
    return max(1, allocated_cpus(environ) // max(1, workers_on_machine))


def follow_slurm_allocation(environ: Mapping[str, str] | None = None) -> int | None:
    """In a SLURM job: torch threads = the CPUs allocated (a trial's ``train.threads``, when
    set, still wins: training sets it per trial). The thread count set, or None outside
    SLURM (torch is then not imported here)."""
    env = os.environ if environ is None else environ
    if SLURM_CPUS not in env:
        return None
    import torch

    threads = cpu_threads(1, env)
    torch.set_num_threads(threads)
    return threads


def configure_worker(
    worker: int,
    workers_on_machine: int | None,
    environ: MutableMapping[str, str] | None = None,
    *,
    visible: list[str] | None = None,
) -> str | None:
    """Pin this process (a worker) to its GPU and its share of the cores; returns the GPU.

    ``visible``: the GPUs to choose from, as the parent saw them (local workers); by
    default those this process's environment lists.
    """
    env = os.environ if environ is None else environ
    pinned = gpu_env(worker, visible if visible is not None else visible_gpus(env))
    import torch

    if pinned and torch.cuda.is_initialized():  # a reused process: CUDA already started
        torch.cuda.set_device(worker % torch.cuda.device_count())
        log.warning("CUDA was already initialised in this process; using set_device instead")
    else:
        env.update(pinned)
    env["ORCHESTRATOR_WORKER"] = str(worker)  # a trainer may read which worker it runs in
    if workers_on_machine or SLURM_CPUS in env:
        torch.set_num_threads(cpu_threads(workers_on_machine or 1, env))
    return pinned.get("CUDA_VISIBLE_DEVICES")
