"""The probe's data model: its config (validated), one measured point, the verdict, the result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

from orchestrator.exceptions import OrchestratorError

MB = 2**20  # "MB" in this module is a mebibyte
SMALL_DOUBLINGS = 2  # the bottleneck check looks at the first two doublings (1 -> 2 -> 4)
MEMORY_HEADROOM = 0.10  # peak memory below 10% of the device's = far from saturated
NOISY_SPREAD = 1.5  # a size whose timed windows differ by more than this is flagged noisy
# Messages of OOMs that are not raised as torch.cuda.OutOfMemoryError (cuBLAS/cuDNN
# workspace allocations, the CPU allocator).
OOM_MESSAGES = (
    "out of memory",
    "CUBLAS_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_ALLOC_FAILED",
    "can't allocate memory",
)


class ProbeError(OrchestratorError):
    """The probe cannot give a recommendation (e.g. not even batch size 1 fits)."""


class MemoryCeilingExceeded(OrchestratorError, MemoryError):
    """On the CPU, a step's estimated peak memory passed ``probe.cpu_memory_limit_mb``.

    The CPU stand-in for a CUDA out-of-memory error: it takes the same code path.
    """

    def __init__(self, batch_size: int, peak_mb: float, limit_mb: float) -> None:
        self.batch_size, self.peak_mb, self.limit_mb = batch_size, peak_mb, limit_mb
        super().__init__(
            f"batch size {batch_size}: estimated peak memory {peak_mb:.1f} MB exceeds "
            f"probe.cpu_memory_limit_mb={limit_mb:g}"
        )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ProbePoint:
    """One batch size: median time per step over the repeats, throughput, peak memory."""

    batch_size: int
    examples_per_s: float
    step_seconds: float  # median over the repeats
    peak_memory_mb: float  # CUDA: max_memory_allocated; CPU: estimate (see measure_batch)
    repeat_step_seconds: tuple[float, ...] = ()  # every window's time per step

    @property
    def seconds_per_1k_steps(self) -> float:
        """Training time per 1,000 steps at this size (``time_per_step * 1000``)."""
        return self.step_seconds * 1000.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["repeat_step_seconds"] = list(self.repeat_step_seconds)
        out["seconds_per_1k_steps"] = self.seconds_per_1k_steps
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ProbePoint:
        names = {f.name for f in fields(cls)}
        kept = {k: v for k, v in raw.items() if k in names}
        kept["repeat_step_seconds"] = tuple(kept.get("repeat_step_seconds", ()))
        return cls(**kept)


@dataclass(frozen=True)
class Verdict:
    """What the probe concludes; ``reason`` says why in one paragraph."""

    recommended: int  # the batch size to train with
    saturation: int | None  # first size whose doubling stopped paying (None: never)
    bottleneck: bool  # small sizes failed to scale although the device had headroom
    reason: str
    bottleneck_reason: str = ""
    gains: tuple[float | None, ...] = ()  # per point: throughput gain per doubling vs previous
    tolerated_dips: tuple[int, ...] = ()  # sizes whose failed doubling was judged noise

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["gains"], out["tolerated_dips"] = list(self.gains), list(self.tolerated_dips)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Verdict:
        kept = {k: v for k, v in raw.items() if k in {f.name for f in fields(cls)}}
        kept["gains"] = tuple(kept.get("gains", ()))
        kept["tolerated_dips"] = tuple(kept.get("tolerated_dips", ()))
        return cls(**kept)


@dataclass(frozen=True)
class ProbeResult:
    """A whole probe: what was measured, where it stopped, and the verdict."""

    model: str  # model.name
    data: str  # data.name
    device: str  # cpu | cuda
    device_name: str
    points: tuple[ProbePoint, ...]
    verdict: Verdict
    probe: dict[str, Any]  # the ProbeConfig used
    experiment: dict[str, Any]  # the experiment probed (all but the batch size apply)
    num_params: int
    input_shape: tuple[int, ...]
    oom_at: int | None = None  # the size that ran out of memory (the sweep stopped there)
    oom_error: str | None = None
    memory_capacity_mb: float | None = None  # CUDA: the device's memory; CPU: None
    memory_measure: str = ""
    wall_seconds: float = 0.0
    created: str = ""
    torch_version: str = torch.__version__

    @property
    def largest_fit(self) -> int:
        """The largest batch size that ran (all of them fit)."""
        return self.points[-1].batch_size

    @property
    def stop_reason(self) -> str:
        if self.oom_at is not None:
            return f"out of memory at batch size {self.oom_at}"
        return f"reached probe.max_batch_size={self.probe.get('max_batch_size')}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["points"] = [p.to_dict() for p in self.points]
        out["verdict"] = self.verdict.to_dict()
        out["input_shape"] = list(self.input_shape)
        out["largest_fit"], out["stop_reason"] = self.largest_fit, self.stop_reason
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ProbeResult:
        kept = {k: v for k, v in raw.items() if k in {f.name for f in fields(cls)}}
        kept["points"] = tuple(ProbePoint.from_dict(p) for p in raw["points"])
        kept["verdict"] = Verdict.from_dict(raw["verdict"])
        kept["input_shape"] = tuple(raw["input_shape"])
        return cls(**kept)


# --------------------------------------------------------------------------- the rule


TABLE_HEADER = (
    f"{'batch':>6} {'examples/s':>12} {'ms/step':>10} {'s/1k steps':>12} {'peak MB':>10}"
    f" {'vs half':>10}"
)


def format_row(point: ProbePoint, gain: float | None) -> str:
    gain_text = f"{gain:.2f}x" if gain is not None else "-"
    return (
        f"{point.batch_size:>6} {point.examples_per_s:>12,.1f} {point.step_seconds * 1e3:>10.2f}"
        f" {point.seconds_per_1k_steps:>12.1f} {point.peak_memory_mb:>10.1f} {gain_text:>10}"
    )
