"""The batch-size probe (PLAYBOOK.md section 0): fix the batch size from measured throughput.

Why: the batch size is not tuned for validation performance; it decides training speed,
and changing it later invalidates the tuned optimizer. So it is picked once per
architecture and device, before any round, from a measurement: train a few steps at
batch sizes 1, 2, 4, ... up to ``probe.max_batch_size`` or the first out-of-memory, time
them, and keep the largest size that still bought a meaningful throughput gain.

How a size is measured (``measure_batch``): a fresh, seeded model and optimizer, batches
gathered from the device-resident training tensors exactly as ``fit`` does (random
indices drawn *with replacement*, so a batch may be larger than the training set; the
configured crop/flip augmentation; bf16 autocast and channels-last on CUDA), warm-up
steps that are not timed, then ``repeats`` timed windows of at least ``timed_steps``
steps (and at least ``min_repeat_seconds``), the device synchronised before every clock
read. The median window gives the time per step.

Out of memory (``torch.cuda.OutOfMemoryError``, the CPU allocator failing, or on the CPU
the configured ``probe.cpu_memory_limit_mb`` ceiling) stops the sweep at that size. The
handler only records a flag: the memory is released *after* the ``except`` block
(reference/reliability.md section 5), because the exception's traceback holds the frames
that hold the model, optimizer and batch, and nothing can be freed while it lives.

This module imports neither Optuna nor Hydra: ``run_probe`` works from a plain script.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import yaml

from orchestrator.exceptions import ConfigError, OrchestratorError
from orchestrator.train.config import (
    ExperimentConfig,
    experiment_from_dict,
    experiment_to_dict,
    validate_experiment,
)
from orchestrator.train.data import Split, load_split
from orchestrator.train.loader import random_crop, random_hflip
from orchestrator.train.loop import resolve_device
from orchestrator.train.models import build_model
from orchestrator.train.optim import build_optimizer

MB = 2**20  # "MB" in this module is a mebibyte
SMALL_DOUBLINGS = 2  # the bottleneck check looks at the first two doublings (1 -> 2 -> 4)
MEMORY_HEADROOM = 0.10  # peak memory below 10% of the device's = far from saturated
NOISY_SPREAD = 1.5  # a size whose timed windows differ by more than this is flagged noisy
# Messages of OOMs that are not raised as torch.cuda.OutOfMemoryError (cuBLAS/cuDNN
# workspace allocations, the CPU allocator).
_OOM_MESSAGES = (
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


@dataclass
class ProbeConfig:
    """What the probe measures and how it decides (``conf/probe/default.yaml``)."""

    max_batch_size: int = 512  # largest size tried (a power of two); OOM may stop earlier
    warmup_steps: int = 3  # untimed steps per size (the first also measures CPU memory)
    timed_steps: int = 5  # at least this many steps per timed window
    repeats: int = 3  # timed windows per size; the median is reported
    min_repeat_seconds: float = 0.05  # a window also lasts at least this long (fast sizes)
    min_gain: float = 1.15  # doubling must raise throughput by this factor to still count
    bottleneck_gain: float = 1.5  # at small sizes doubling should give at least this
    cpu_memory_limit_mb: float | None = None  # CPU only: estimated peak above this = OOM
    apply: bool = False  # write the recommendation into the incumbent


def validate_probe(cfg: ProbeConfig) -> None:
    """Raise one ``ConfigError`` naming the first invalid ``probe.*`` key, or return None."""
    m = cfg.max_batch_size
    if not isinstance(m, int) or isinstance(m, bool) or m < 1 or m & (m - 1):
        raise ConfigError("probe.max_batch_size", f"must be a power of two >= 1; got {m!r}")
    for key, low in (("warmup_steps", 1), ("timed_steps", 1), ("repeats", 1)):
        value = getattr(cfg, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"probe.{key}", f"must be an integer >= {low}; got {value!r}")
    if not _finite(cfg.min_repeat_seconds) or cfg.min_repeat_seconds < 0:
        raise ConfigError(
            "probe.min_repeat_seconds", f"must be a number >= 0; got {cfg.min_repeat_seconds!r}"
        )
    for key in ("min_gain", "bottleneck_gain"):
        value = getattr(cfg, key)
        if not (_finite(value) and 1 < value <= 2):
            raise ConfigError(
                f"probe.{key}",
                f"must be a throughput factor in (1, 2] (doubling gives at most 2x); "
                f"got {value!r}",
            )
    limit = cfg.cpu_memory_limit_mb
    if limit is not None and not (_finite(limit) and limit > 0):
        raise ConfigError("probe.cpu_memory_limit_mb", f"must be > 0 or null; got {limit!r}")


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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


def doubling_gains(points: list[ProbePoint]) -> list[float | None]:
    """Per point, its throughput over the previous point's, per doubling of the batch.

    In a probe the previous point is half the size, so this is the plain ratio; for
    other spacings it is normalised to one doubling (ratio ** (1 / log2(size ratio))).
    The first point has no gain (None).
    """
    gains: list[float | None] = [None]
    for prev, cur in zip(points, points[1:], strict=False):
        doublings = math.log2(cur.batch_size / prev.batch_size)
        gains.append((cur.examples_per_s / prev.examples_per_s) ** (1.0 / doublings))
    return gains


def recommend(
    points: list[ProbePoint], cfg: ProbeConfig, *, memory_capacity_mb: float | None = None
) -> Verdict:
    """The recommended batch size, the saturation point and the bottleneck check.

    The rule (``g[i]`` = throughput gain of size ``i`` over the previous size, half as
    large; ``G = min_gain``):

    1. Walk up from the smallest size. A size whose gain is ``>= G`` is accepted.
    2. A failed doubling (``g[i] < G``) ends the walk, with one exception for noise: a
       *dip* is tolerated when the next size recovers, i.e. its throughput is ``>= G**2``
       times that of the size before the dip (two doublings that together paid as much as
       two good ones). The walk then accepts the next size and goes on after it. A
       failure at the largest size probed cannot be checked and ends the walk.
    3. ``recommended`` is the last accepted size (the smallest size when nothing was
       accepted); ``saturation`` is the size whose failed doubling ended the walk (None
       when the walk reached the largest size probed: throughput was still scaling).

    Because the walk ends at the first failure that is not a recovered dip, a later blip
    above ``G`` after a flat stretch (two failed doublings in a row) never moves the
    recommendation, and a single noisy dip inside a scaling region does not stop it.

    Bottleneck: the geometric-mean gain over the first ``SMALL_DOUBLINGS`` doublings (1 ->
    2 -> 4 in a probe) is below ``bottleneck_gain`` although the device is far from
    saturated, judged by either (a) later growth: a larger size reached at least
    ``bottleneck_gain`` times the best throughput of the small sizes, so the device had
    headroom the small sizes did not use; or (b) memory: ``memory_capacity_mb`` is known
    (CUDA) and the peak memory at the last small size is below ``MEMORY_HEADROOM`` of it.
    Without either (e.g. on a CPU, where a big model can saturate the cores at batch 1),
    a flat curve is read as saturation, not as a bottleneck.
    """
    if not points:
        raise ValueError("recommend needs at least one measured batch size")
    points = sorted(points, key=lambda p: p.batch_size)
    gains = doubling_gains(points)
    recommended, saturation, dips, why = _walk(points, gains, cfg.min_gain)
    bottleneck, bottleneck_reason = _bottleneck(points, cfg.bottleneck_gain, memory_capacity_mb)
    return Verdict(
        recommended=recommended,
        saturation=saturation,
        bottleneck=bottleneck,
        reason=why,
        bottleneck_reason=bottleneck_reason,
        gains=tuple(gains),
        tolerated_dips=tuple(dips),
    )


def _walk(
    points: list[ProbePoint], gains: list[float | None], min_gain: float
) -> tuple[int, int | None, list[int], str]:
    """Steps 1-3 of ``recommend``: (recommended, saturation, tolerated dips, reason)."""
    sizes = [p.batch_size for p in points]
    thr = [p.examples_per_s for p in points]
    accepted, dips, i = 0, [], 1
    while i < len(points):
        gain = gains[i]
        assert gain is not None
        if gain >= min_gain:
            accepted, i = i, i + 1
            continue
        recovers = i + 1 < len(points) and thr[i + 1] >= min_gain**2 * thr[i - 1]
        if not recovers:
            return sizes[accepted], sizes[i], dips, _stop_reason(points, gains, i, min_gain)
        dips.append(sizes[i])
        accepted, i = i + 1, i + 2
    if len(points) == 1:
        return sizes[0], None, dips, f"only batch size {sizes[0]} was measured"
    last = sizes[accepted]
    why = (
        f"throughput still grew by >= {min_gain:g}x per doubling up to the largest size "
        f"probed ({last}; {thr[accepted]:,.0f} examples/s): the device did not saturate, so "
        "the largest size is recommended (raise probe.max_batch_size to look further)"
    )
    return last, None, dips, why


def _stop_reason(points: list[ProbePoint], gains: list[float | None], i: int, g: float) -> str:
    prev, cur = points[i - 1], points[i]
    text = (
        f"doubling {prev.batch_size} -> {cur.batch_size} gave {gains[i]:.2f}x throughput "
        f"(< probe.min_gain {g:g})"
    )
    if i + 1 < len(points):
        nxt = points[i + 1]
        ratio = nxt.examples_per_s / prev.examples_per_s
        text += (
            f" and {nxt.batch_size} did not recover ({ratio:.2f}x over {prev.batch_size}, "
            f"< {g * g:.2f}x)"
        )
    if i == 1:
        return f"{text}: throughput does not scale even from the smallest size"
    return (
        f"{text}: the device saturates at {cur.batch_size}; {prev.batch_size} is the largest "
        "size that still paid"
    )


def _bottleneck(
    points: list[ProbePoint], bottleneck_gain: float, capacity_mb: float | None
) -> tuple[bool, str]:
    """The bottleneck part of ``recommend``: (flag, explanation)."""
    if len(points) < 2:
        return False, ""
    k = min(SMALL_DOUBLINGS, len(points) - 1)
    first, last_small = points[0], points[k]
    doublings = math.log2(last_small.batch_size / first.batch_size)
    small_gain = (last_small.examples_per_s / first.examples_per_s) ** (1.0 / doublings)
    if small_gain >= bottleneck_gain:
        return False, ""
    scaled = (
        f"throughput scaled only {small_gain:.2f}x per doubling from batch {first.batch_size} "
        f"to {last_small.batch_size} (< probe.bottleneck_gain {bottleneck_gain:g})"
    )
    best_small = max(p.examples_per_s for p in points[: k + 1])
    best_later = max((p.examples_per_s for p in points[k + 1 :]), default=0.0)
    if best_later >= bottleneck_gain * best_small:
        headroom = f"larger sizes reached {best_later / best_small:.2f}x the best small-size rate"
    elif capacity_mb and last_small.peak_memory_mb < MEMORY_HEADROOM * capacity_mb:
        headroom = (
            f"batch {last_small.batch_size} used {last_small.peak_memory_mb:.0f} MB of "
            f"{capacity_mb:.0f} MB"
        )
    else:
        return False, f"{scaled}, but nothing shows spare capacity: read as saturation"
    return True, (
        f"{scaled} although the device is far from saturated ({headroom}): an input or "
        "host-device bottleneck (data gathering, copies, synchronisation). Fix it before "
        "trusting these numbers."
    )


# --------------------------------------------------------------------------- measuring


@dataclass
class ProbeContext:
    """Everything a measuring function needs, prepared once for the whole sweep."""

    config: ExperimentConfig
    probe: ProbeConfig
    device: torch.device
    split: Split  # on ``device``
    memory_format: torch.memory_format = torch.contiguous_format
    use_bf16: bool = False

    @property
    def on_cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.use_bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def sync(self) -> None:
        if self.on_cuda:
            torch.cuda.synchronize(self.device)


Measure = Callable[[ProbeContext, int], ProbePoint]


def measure_batch(ctx: ProbeContext, batch_size: int) -> ProbePoint:
    """Time training steps at ``batch_size``; raise an OOM error when it does not fit.

    Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` over all the steps (the
    allocator's peak, excluding its cache and the CUDA context). On the CPU, an estimate
    taken on the first warm-up step (``_cpu_peak_mb``): parameters + gradients +
    optimizer state + the batch + every tensor autograd saved for backward (the
    activations), unique storages counted once. That is the memory live at the end of the
    forward pass, the usual peak; allocator overhead and transient buffers are not in it.
    On the CPU, an estimate above ``probe.cpu_memory_limit_mb`` raises
    ``MemoryCeilingExceeded``.
    """
    cfg, probe = ctx.config, ctx.probe
    torch.manual_seed(cfg.train.seed)
    if ctx.on_cuda:
        torch.cuda.reset_peak_memory_stats(ctx.device)
    model = build_model(cfg.model, ctx.split.input_shape, ctx.split.num_classes)
    model = model.to(ctx.device, memory_format=ctx.memory_format).train()
    forward = torch.compile(model) if cfg.train.compile else model
    optimizer = build_optimizer(cfg.optimizer, model.parameters(), fused=ctx.on_cuda)
    generator = torch.Generator(device=ctx.device).manual_seed(cfg.train.seed + batch_size)
    step = _make_step(ctx, forward, model, optimizer, batch_size, generator)

    cpu_peak = _cpu_peak_mb(ctx, model, optimizer, step, batch_size)  # first warm-up step
    if not ctx.on_cuda and probe.cpu_memory_limit_mb is not None:
        if cpu_peak > probe.cpu_memory_limit_mb:
            raise MemoryCeilingExceeded(batch_size, cpu_peak, probe.cpu_memory_limit_mb)
    for _ in range(probe.warmup_steps - 1):
        step()
    windows = [_timed_window(ctx, step) for _ in range(probe.repeats)]
    seconds = statistics.median(windows)
    peak = torch.cuda.max_memory_allocated(ctx.device) / MB if ctx.on_cuda else cpu_peak
    return ProbePoint(batch_size, batch_size / seconds, seconds, peak, tuple(windows))


def _make_step(
    ctx: ProbeContext,
    forward: Callable[[torch.Tensor], torch.Tensor],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    generator: torch.Generator,
) -> Callable[[], None]:
    """One training step as ``fit`` does it, from batch gathering to the optimizer update."""
    t, d = ctx.config.train, ctx.config.data
    x_all, y_all = ctx.split.x_train, ctx.split.y_train
    n = x_all.shape[0]
    loss_fn = nn.CrossEntropyLoss(label_smoothing=t.label_smoothing)
    params = [p for p in model.parameters() if p.requires_grad]

    def step() -> None:
        idx = torch.randint(n, (batch_size,), generator=generator, device=ctx.device)
        x = random_crop(x_all[idx], d.crop_padding, generator)
        if d.hflip:
            x = random_hflip(x, generator)
        x = x.contiguous(memory_format=ctx.memory_format)
        with ctx.autocast():
            loss = loss_fn(forward(x), y_all[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, t.grad_clip_norm)
        else:  # fit computes the norm every step for its curves: part of the step's cost
            torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
        optimizer.step()

    return step


def _cpu_peak_mb(
    ctx: ProbeContext,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: Callable[[], None],
    batch_size: int,
) -> float:
    """Run one step, recording the bytes autograd saves for backward; return the estimate.

    On CUDA the step runs plainly (the allocator's peak is exact) and 0.0 is returned.
    """
    if ctx.on_cuda:
        step()
        return 0.0
    param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in param_ptrs:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        step()
    batch = (ctx.split.x_train[:1].nbytes + ctx.split.y_train[:1].nbytes) * batch_size
    state = sum(
        v.nbytes for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v)
    )
    params = sum(p.nbytes for p in model.parameters())
    grads = sum(p.grad.nbytes for p in model.parameters() if p.grad is not None)
    return (params + grads + state + batch + sum(saved.values())) / MB


def _timed_window(ctx: ProbeContext, step: Callable[[], None]) -> float:
    """Seconds per step over one window of >= timed_steps steps and >= min_repeat_seconds."""
    probe = ctx.probe
    ctx.sync()
    start = time.perf_counter()
    done = 0
    while done < probe.timed_steps or time.perf_counter() - start < probe.min_repeat_seconds:
        step()
        done += 1
    ctx.sync()  # the device finishes its queue before the clock is read
    return (time.perf_counter() - start) / done


# --------------------------------------------------------------------------- the sweep


def batch_sizes(max_batch_size: int) -> list[int]:
    """1, 2, 4, ... ``max_batch_size`` (a power of two)."""
    return [2**k for k in range(int(math.log2(max_batch_size)) + 1)]


def is_oom_error(err: BaseException) -> bool:
    """An out-of-memory error from CUDA, cuBLAS/cuDNN, the CPU allocator, or the ceiling."""
    if isinstance(err, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    return isinstance(err, RuntimeError) and any(m in str(err) for m in _OOM_MESSAGES)


def release_memory(device: torch.device) -> None:
    """Collect garbage and hand cached CUDA blocks back; call it OUTSIDE any ``except``."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _attempt(measure: Measure, ctx: ProbeContext, batch_size: int) -> ProbePoint | str:
    """The point, or the OOM message. The handler only keeps a string: leaving the
    ``except`` block drops the traceback, and with it the frames holding the tensors."""
    oom: str | None = None
    try:
        return measure(ctx, batch_size)
    except (RuntimeError, MemoryError) as err:  # torch.cuda.OutOfMemoryError is a RuntimeError
        if not is_oom_error(err):
            raise
        oom = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return oom


def _sweep(
    ctx: ProbeContext, measure: Measure, on_point: Callable[[str], None] | None
) -> tuple[list[ProbePoint], int | None, str | None]:
    """Measure each size until ``max_batch_size`` or the first OOM: (points, oom_at, error)."""
    points: list[ProbePoint] = []
    for size in batch_sizes(ctx.probe.max_batch_size):
        outcome = _attempt(measure, ctx, size)
        if isinstance(outcome, str):
            release_memory(ctx.device)  # after the except block: the OOM's frames are gone
            if on_point:
                on_point(f"batch {size:>6}: out of memory ({outcome})")
            return points, size, outcome
        points.append(outcome)
        if on_point:
            on_point(_row(outcome, doubling_gains(points[-2:])[-1]))
    return points, None, None


def run_probe(
    config: ExperimentConfig,
    probe: ProbeConfig,
    *,
    split: Split | None = None,
    measure: Measure = measure_batch,
    on_point: Callable[[str], None] | None = None,
) -> ProbeResult:
    """Probe ``config``'s model and data at batch sizes 1, 2, 4, ...; return the verdict.

    ``config.train.batch_size`` is ignored (it is what the probe decides); the rest of
    ``config`` (model, optimizer, precision, augmentation, device, threads, seed) applies.
    ``split`` reuses loaded data (else ``config.data`` is loaded); ``measure`` times one
    size (injectable for tests); ``on_point`` receives one line per size as it is
    measured. Raises ``ProbeError`` when not even batch size 1 fits.
    """
    validate_experiment(config)
    validate_probe(probe)
    start = time.perf_counter()
    device = resolve_device(config.train.device)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    ctx = _context(config, probe, device, split)
    input_shape, num_params = ctx.split.input_shape, _count_params(config, ctx.split)
    points, oom_at, oom_error = _sweep(ctx, measure, on_point)
    del ctx  # the device copy of the data goes too
    release_memory(device)
    if not points:
        raise ProbeError(
            f"batch size 1 does not fit on {device} ({oom_error}): use a smaller model or "
            "image size, or raise probe.cpu_memory_limit_mb"
        )
    capacity = _memory_capacity_mb(device)
    verdict = recommend(points, probe, memory_capacity_mb=capacity)
    verdict = _note_memory_limit(verdict, oom_at, probe.min_gain)
    return ProbeResult(
        model=config.model.name,
        data=config.data.name,
        device=device.type,
        device_name=_device_name(device),
        points=tuple(points),
        verdict=verdict,
        probe=asdict(probe),
        experiment=experiment_to_dict(config),
        num_params=num_params,
        input_shape=tuple(input_shape),
        oom_at=oom_at,
        oom_error=oom_error,
        memory_capacity_mb=capacity,
        memory_measure=_MEMORY_MEASURE[device.type == "cuda"],
        wall_seconds=time.perf_counter() - start,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


_MEMORY_MEASURE = {
    True: "torch.cuda.max_memory_allocated (allocator peak; excludes cache and CUDA context)",
    False: "estimate: parameters + gradients + optimizer state + batch + activations saved "
    "for backward (unique storages)",
}


def _context(
    config: ExperimentConfig, probe: ProbeConfig, device: torch.device, split: Split | None
) -> ProbeContext:
    """Data on the device and the numerics ``fit`` would use there."""
    on_cuda = device.type == "cuda"
    t = config.train
    channels_last = on_cuda and t.channels_last
    return ProbeContext(
        config=config,
        probe=probe,
        device=device,
        split=(split or load_split(config.data)).to(device),
        memory_format=torch.channels_last if channels_last else torch.contiguous_format,
        use_bf16=t.precision == "bf16" or (t.precision == "auto" and on_cuda),
    )


def _count_params(config: ExperimentConfig, split: Split) -> int:
    model = build_model(config.model, split.input_shape, split.num_classes)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _memory_capacity_mb(device: torch.device) -> float | None:
    """The device's memory on CUDA; None on the CPU (cores saturate long before RAM fills)."""
    if device.type != "cuda":
        return None
    return torch.cuda.get_device_properties(device).total_memory / MB


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    return f"{cpu} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def _note_memory_limit(verdict: Verdict, oom_at: int | None, min_gain: float) -> Verdict:
    """When memory ran out before throughput saturated, the reason says so (and the risk)."""
    if oom_at is None or verdict.saturation is not None:
        return verdict
    rec = verdict.recommended
    if len(verdict.gains) <= 1:
        why = f"only batch size {rec} fits (memory ran out at {oom_at})"
    else:
        why = (
            f"throughput still grew by >= {min_gain:g}x per doubling up to {rec} and memory "
            f"ran out at {oom_at}: {rec}, the largest size that fits, is recommended. It "
            "leaves no margin (workers sharing the device, a larger evaluation batch): use "
            f"{rec // 2} if training runs out of memory"
        )
    return replace(verdict, reason=why)


def noisy_sizes(
    points: list[ProbePoint] | tuple[ProbePoint, ...], spread: float = NOISY_SPREAD
) -> list[int]:
    """Sizes whose slowest timed window took > ``spread`` x the fastest: a busy machine."""
    return [
        p.batch_size
        for p in points
        if len(p.repeat_step_seconds) > 1
        and max(p.repeat_step_seconds) > spread * min(p.repeat_step_seconds)
    ]


# --------------------------------------------------------------------------- output


def _row(point: ProbePoint, gain: float | None) -> str:
    gain_text = f"{gain:.2f}x" if gain is not None else "-"
    return (
        f"{point.batch_size:>6} {point.examples_per_s:>12,.1f} {point.step_seconds * 1e3:>10.2f}"
        f" {point.seconds_per_1k_steps:>12.1f} {point.peak_memory_mb:>10.1f} {gain_text:>10}"
    )


TABLE_HEADER = (
    f"{'batch':>6} {'examples/s':>12} {'ms/step':>10} {'s/1k steps':>12} {'peak MB':>10}"
    f" {'vs half':>10}"
)


def format_table(result: ProbeResult) -> str:
    """The terminal report: one row per size, then the verdict (and a bottleneck warning)."""
    v = result.verdict
    shape = "x".join(str(s) for s in result.input_shape)
    lines = [
        f"batch-size probe: {result.model} ({result.num_params:,} parameters) on "
        f"{result.data} ({shape}), {result.device_name}",
        TABLE_HEADER,
    ]
    for point, gain in zip(result.points, v.gains, strict=True):
        marks = [m for m, size in (("<- recommended", v.recommended),) if size == point.batch_size]
        if point.batch_size == v.saturation:
            marks.append("<- saturation")
        if point.batch_size in v.tolerated_dips:
            marks.append("(dip, tolerated)")
        lines.append(" ".join([_row(point, gain), *marks]))
    if result.oom_at is not None:
        lines.append(f"{result.oom_at:>6}  out of memory: {result.oom_error}")
    lines.append(f"stopped: {result.stop_reason}; peak memory: {result.memory_measure}")
    lines.append(f"recommended batch size: {v.recommended} ({v.reason})")
    if v.bottleneck:
        lines.append(f"WARNING bottleneck: {v.bottleneck_reason}")
    elif v.bottleneck_reason:
        lines.append(f"note: {v.bottleneck_reason}")
    noisy = noisy_sizes(result.points)
    if noisy:
        lines.append(
            f"WARNING noisy timings at batch sizes {noisy} (timed windows differ by more "
            f"than {NOISY_SPREAD:g}x): "
            "the machine is busy, so the recommendation is unreliable; rerun when it is idle "
            "(on a shared CPU, train.threads=1 gives steadier numbers)"
        )
    current = result.experiment.get("train", {}).get("batch_size")
    if current is not None and current != v.recommended:
        lines.append(
            f"the probed config uses train.batch_size={current}; probe.apply=true writes "
            f"{v.recommended} into the incumbent (then re-tune the optimizer)"
        )
    return "\n".join(lines)


def probe_file(studies_dir: str | Path, result: ProbeResult) -> Path:
    """``studies/probes/<model>-<data>-<device>.json``, e.g. ``cnn-synthetic-cpu.json``."""
    return Path(studies_dir) / "probes" / f"{result.model}-{result.data}-{result.device}.json"


def write_probe(result: ProbeResult, studies_dir: str | Path) -> tuple[Path, Path]:
    """Write the JSON record and the chart next to it; return (json path, html path)."""
    from orchestrator.report.probe_chart import write_probe_html  # plotly only when writing

    json_path = probe_file(studies_dir, result)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"
    _atomic_write(json_path, text)
    html_path = write_probe_html(result, json_path.with_suffix(".html"))
    return json_path, html_path


def _atomic_write(path: Path, text: str) -> None:
    """Write to a temporary file in the same directory, then ``os.replace`` it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def apply_to_incumbent(
    incumbent_path: str | Path, recommended: int, *, base: ExperimentConfig | None = None
) -> str:
    """Write ``train.batch_size = recommended`` into the incumbent YAML, atomically.

    The incumbent is an experiment dict, at the top level or under an ``experiment:`` key;
    every other value is kept (YAML comments are not). A missing incumbent is created from
    ``base`` (required then) as a plain experiment dict. The result is validated before it
    replaces the file. Returns a message for the user: later rounds must re-tune the
    optimizer, because the best learning rate (and most optimizer and regularisation
    settings) depend on the batch size.
    """
    path = Path(incumbent_path)
    if path.exists():
        document = yaml.safe_load(path.read_text()) or {}
        if not isinstance(document, dict):
            raise ConfigError(str(path), "the incumbent must be a YAML mapping")
    elif base is not None:
        document = experiment_to_dict(base)
    else:
        raise ConfigError(str(path), "no incumbent to update and no base config to create it")
    experiment = document.get("experiment", document)
    train = experiment.setdefault("train", {}) or {}
    experiment["train"] = train
    previous = train.get("batch_size")
    train["batch_size"] = int(recommended)
    validate_experiment(experiment_from_dict(experiment))
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, yaml.safe_dump(document, sort_keys=False))
    change = (
        f"train.batch_size {previous} -> {recommended}"
        if previous is not None
        else f"train.batch_size = {recommended}"
    )
    return (
        f"wrote {change} into {path}. The batch size changes the best learning rate (and "
        "most optimizer and regularisation settings): later rounds must re-tune the "
        "optimizer at this batch size; results tuned at the old size do not carry over."
    )


def probe_stage(
    config: ExperimentConfig,
    probe: ProbeConfig,
    studies_dir: str | Path,
    *,
    incumbent_path: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> ProbeResult:
    """What ``stage=probe`` does: probe, print the table, write the files, maybe apply.

    ``incumbent_path`` is where ``probe.apply=true`` writes (``studies/incumbent.yaml``
    by default; created from ``config`` when missing).
    """
    echo(f"probing batch sizes 1..{probe.max_batch_size} ({TABLE_HEADER.strip()})")
    result = run_probe(config, probe, on_point=echo)
    echo("")
    echo(format_table(result))
    json_path, html_path = write_probe(result, studies_dir)
    echo(f"probe files: {json_path}, {html_path} ({result.wall_seconds:.1f} s)")
    if probe.apply:
        target = incumbent_path or Path(studies_dir) / "incumbent.yaml"
        echo(apply_to_incumbent(target, result.verdict.recommended, base=config))
    return result
