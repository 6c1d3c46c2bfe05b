"""What a SLURM job asks for against what the cluster's partitions offer, before submitting.

A request no partition can satisfy is not refused by ``sbatch`` in every case: too many
CPUs or too much memory for any node leaves the job PENDING for ever (reason
``PartitionConfig``) while the command waits in silence, and a GPU on a cluster without
any is a 40-line traceback around ``Invalid generic resource (gres) specification``. So
the launcher reads the partitions with ``sinfo`` first and says, in one line, what was
asked and what each partition offers.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SINFO_FORMAT = "%P|%c|%m|%G|%l|%D"  # partition, CPUs/node, MB/node, gres, time limit, nodes


@dataclass(frozen=True)
class Request:
    """One job's resources, from the launcher's keys (``hydra.launcher.*``)."""

    partition: str | None
    cpus: int  # per node: cpus_per_task x tasks_per_node
    mem_mb: int | None
    gpus: int  # per node
    minutes: int
    nodes: int = 1

    def describe(self) -> str:
        mem = "no memory limit" if self.mem_mb is None else f"{_gb(self.mem_mb)} memory"
        gpus = f"{self.gpus} GPU{'s' if self.gpus != 1 else ''}" if self.gpus else "no GPU"
        where = f"partition {self.partition}" if self.partition else "the default partition"
        nodes = f" on {self.nodes} nodes" if self.nodes > 1 else ""
        cpus = f"{self.cpus} CPU{'s' if self.cpus != 1 else ''}"
        return f"{cpus}, {mem}, {gpus}, {self.minutes} min{nodes} on {where}"


@dataclass(frozen=True)
class Partition:
    """One line of ``sinfo``: a partition's nodes of one shape."""

    name: str
    default: bool
    cpus: int
    mem_mb: int
    gpus: int
    minutes: int | None  # None: no limit
    nodes: int

    def shortfalls(self, req: Request) -> list[str]:
        """What of ``req`` this partition cannot give (empty: it fits)."""
        short = []
        if req.cpus > self.cpus:
            short.append(f"cpus_per_task x tasks_per_node = {req.cpus} > {self.cpus}")
        if req.mem_mb is not None and req.mem_mb > self.mem_mb:
            short.append(f"mem_gb = {_gb(req.mem_mb)} > {_gb(self.mem_mb)}")
        if req.gpus > self.gpus:
            short.append(f"gpus_per_node = {req.gpus} > {self.gpus}")
        if self.minutes is not None and req.minutes > self.minutes:
            short.append(f"timeout_min = {req.minutes} > {self.minutes}")
        if req.nodes > self.nodes:
            short.append(f"nodes = {req.nodes} > {self.nodes}")
        return short

    def describe(self) -> str:
        limit = "no time limit" if self.minutes is None else f"{self.minutes} min"
        gpus = f"{self.gpus} GPUs" if self.gpus else "no GPUs"
        star = " (default)" if self.default else ""
        return (
            f"{self.name}{star}: {self.nodes} node(s) of {self.cpus} CPUs, "
            f"{_gb(self.mem_mb)}, {gpus}, {limit}"
        )


def request_from(params: Mapping[str, Any]) -> Request:
    """The request that the launcher's parameters (``hydra.launcher``) make per job."""
    tasks = int(params.get("tasks_per_node") or 1)
    gpus = int(params.get("gpus_per_node") or 0)
    if params.get("gpus_per_task"):
        gpus = max(gpus, int(params["gpus_per_task"]) * tasks)
    cpus = int(params.get("cpus_per_task") or 1) * tasks
    if params.get("cpus_per_gpu") and gpus:
        cpus = max(cpus, int(params["cpus_per_gpu"]) * gpus)
    mem_gb = params.get("mem_gb")
    return Request(
        partition=params.get("partition") or None,
        cpus=cpus,
        mem_mb=None if mem_gb is None else int(float(mem_gb) * 1024),
        gpus=gpus,
        minutes=int(params.get("timeout_min") or 0),
        nodes=int(params.get("nodes") or 1),
    )


def read_partitions() -> list[Partition] | None:
    """The cluster's partitions from ``sinfo``; None where there is no ``sinfo`` to ask (then
    ``sbatch`` itself is the judge)."""
    if shutil.which("sinfo") is None:
        return None
    proc = subprocess.run(
        ["sinfo", "-h", "-o", SINFO_FORMAT], capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        return None
    return [p for line in proc.stdout.splitlines() if (p := parse_sinfo_line(line))]


def parse_sinfo_line(line: str) -> Partition | None:
    """One ``sinfo -o SINFO_FORMAT`` line (None for a line of another shape)."""
    fields = line.strip().split("|")
    if len(fields) != 6:
        return None
    name, cpus, mem, gres, limit, nodes = fields
    try:
        return Partition(
            name=name.rstrip("*"),
            default=name.endswith("*"),
            cpus=int(cpus.rstrip("+")),
            mem_mb=int(mem.rstrip("+")),
            gpus=_gres_gpus(gres),
            minutes=_minutes(limit),
            nodes=int(nodes),
        )
    except ValueError:
        return None


def unsatisfiable(req: Request, partitions: list[Partition]) -> str | None:
    """Why no partition can run ``req`` (one message naming the keys), or None if one can."""
    names = sorted({p.name for p in partitions})
    if req.partition is not None and req.partition not in names:
        return (
            f"hydra.launcher.partition={req.partition}: no such partition on this cluster "
            f"(sinfo lists: {', '.join(names) or 'none'})"
        )
    candidates = [
        p for p in partitions if (p.name == req.partition if req.partition else p.default)
    ]
    if not candidates or any(not p.shortfalls(req) for p in candidates):
        return None
    offers = "; ".join(p.describe() for p in partitions)
    short = "; ".join(sorted({s for p in candidates for s in p.shortfalls(req)}))
    return (
        f"hydra.launcher asks each job for {req.describe()}, which no node there has "
        f"({short}). Partitions: {offers}. Lower hydra.launcher.cpus_per_task, mem_gb, "
        "gpus_per_node or timeout_min, or name a partition that has them "
        "(hydra.launcher.partition=...)"
    )


def _gres_gpus(gres: str) -> int:
    """GPUs per node in a gres list such as ``gpu:a100:4(S:0-1),shard:8`` (0 for none)."""
    total = 0
    for item in gres.split(","):
        parts = re.sub(r"\(.*\)", "", item).split(":")
        if parts[0] == "gpu" and len(parts) > 1 and parts[-1].isdigit():
            total += int(parts[-1])
    return total


def _minutes(limit: str) -> int | None:
    """``sinfo``'s time limit (``infinite``, ``30:00``, ``4:00:00``, ``1-12:00:00``) in
    minutes."""
    if limit in ("infinite", "UNLIMITED", "n/a"):
        return None
    days, _, clock = limit.rpartition("-")
    parts = [int(x) for x in clock.split(":")]
    while len(parts) < 3:  # MM:SS or MM
        parts = [0, *parts] if len(parts) == 2 else [*parts, 0]
    hours, minutes, seconds = parts
    return int(days or 0) * 1440 + hours * 60 + minutes + (1 if seconds else 0)


def _gb(mb: int) -> str:
    return f"{mb / 1024:.0f} GB" if mb >= 1024 else f"{mb} MB"
