"""Measuring throughput per batch size, and stopping cleanly at the first out-of-memory."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import torch
import torch.nn as nn

from orchestrator.config.sections import ProbeConfig, validate_probe
from orchestrator.probe.model import (
    MB,
    OOM_MESSAGES,
    MemoryCeilingExceeded,
    ProbeError,
    ProbePoint,
    ProbeResult,
    format_row,
)
from orchestrator.probe.rule import doubling_gains, note_memory_limit, recommend
from orchestrator.train.config import ExperimentConfig, experiment_to_dict, validate_experiment
from orchestrator.train.data import Split, load_split
from orchestrator.train.loader import random_crop, random_hflip
from orchestrator.train.loop import resolve_device
from orchestrator.train.models import build_model
from orchestrator.train.numerics import Numerics, resolve_numerics
from orchestrator.train.optim import build_optimizer


@dataclass(frozen=True)
class ProbeContext:
    """Everything a measuring function needs, prepared once for the whole sweep."""

    config: ExperimentConfig
    probe: ProbeConfig
    device: torch.device
    split: Split  # on ``device``, in the run's data dtype and layout, as ``fit`` keeps it
    numerics: Numerics  # the same resolution ``fit`` makes: precision, layout, kernels

    @property
    def on_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def memory_format(self) -> torch.memory_format:
        return self.numerics.memory_format

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return self.numerics.autocast()

    def sync(self) -> None:
        if self.on_cuda:
            torch.cuda.synchronize(self.device)


Measure = Callable[[ProbeContext, int], ProbePoint]


def measure_batch(ctx: ProbeContext, batch_size: int) -> ProbePoint:
    """Time training steps at ``batch_size``; raise an OOM error when it does not fit.

    Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` over all the steps (the
    allocator's peak, including the device-resident data set, excluding the allocator's
    cache and the CUDA context). On the CPU, an estimate taken on the first warm-up step
    (``_cpu_peak_mb``): parameters + gradients + optimizer state + every tensor autograd
    saved for backward (the activations and the batch), unique storages counted once.
    That is the memory live at the end of the forward pass, the usual peak; the data set,
    allocator overhead and transient backward buffers are not in it.
    On the CPU, an estimate above ``probe.cpu_memory_limit_mb`` raises
    ``MemoryCeilingExceeded``.
    """
    cfg, probe = ctx.config, ctx.probe
    torch.manual_seed(cfg.train.seed)
    if ctx.on_cuda:
        torch.cuda.reset_peak_memory_stats(ctx.device)
    model = build_model(cfg.model, ctx.split.input_shape, ctx.split.num_classes)
    model = model.to(ctx.device).to(memory_format=ctx.memory_format).train()
    forward = torch.compile(model) if cfg.train.compile else model
    optimizer = build_optimizer(
        cfg.optimizer, model.parameters(), fused=ctx.numerics.fused_optimizer
    )
    generator = torch.Generator(device=ctx.device).manual_seed(cfg.train.seed + batch_size)
    step = _make_step(ctx, forward, model, optimizer, batch_size, generator)

    cpu_peak = 0.0
    if ctx.on_cuda:
        step()  # the first warm-up step
    else:  # the first warm-up step, its memory estimated and checked against the ceiling
        cpu_peak = _cpu_peak_mb(model, optimizer, step)
        limit = probe.cpu_memory_limit_mb
        if limit is not None and cpu_peak > limit:
            raise MemoryCeilingExceeded(batch_size, cpu_peak, limit)
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
    scaler = ctx.numerics.grad_scaler()  # live with fp16 only, as in ``fit``

    def step() -> None:
        idx = torch.randint(n, (batch_size,), generator=generator, device=ctx.device)
        x = random_crop(x_all[idx], d.crop_padding, generator)
        if d.hflip:
            x = random_hflip(x, generator)
        x = x.contiguous(memory_format=ctx.memory_format)
        with ctx.autocast():
            loss = loss_fn(forward(x), y_all[idx])
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        if t.grad_clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, t.grad_clip_norm)
        else:  # fit computes the norm every step for its curves: part of the step's cost
            torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
        scaler.step(optimizer)
        scaler.update()

    return step


def _cpu_peak_mb(
    model: nn.Module, optimizer: torch.optim.Optimizer, step: Callable[[], None]
) -> float:
    """Run one step, recording the bytes autograd saves for backward; return the estimate.

    Parameters + gradients + optimizer state + every tensor saved for backward (unique
    storages, parameters excluded: the activations, and the batch, which the first layer
    and the loss save), in MB: what is live at the end of the forward pass.
    """
    param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in param_ptrs:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        step()
    state = sum(
        v.nbytes for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v)
    )
    params = sum(p.nbytes for p in model.parameters())
    grads = sum(p.grad.nbytes for p in model.parameters() if p.grad is not None)
    return (params + grads + state + sum(saved.values())) / MB


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
    return isinstance(err, RuntimeError) and any(m in str(err) for m in OOM_MESSAGES)


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
            on_point(format_row(outcome, doubling_gains(points[-2:])[-1]))
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
    _one_fits(points, device, oom_error)
    capacity = _memory_capacity_mb(device)
    verdict = recommend(points, probe, memory_capacity_mb=capacity)
    verdict = note_memory_limit(verdict, oom_at, probe.min_gain)
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


def _one_fits(points: list[ProbePoint], device: torch.device, oom_error: str | None) -> None:
    """No point measured means batch size 1 ran out of memory: nothing to recommend."""
    if not points:
        raise ProbeError(
            f"batch size 1 does not fit on {device} ({oom_error}): use a smaller model or "
            "image size, or raise probe.cpu_memory_limit_mb"
        )


_MEMORY_MEASURE = {
    True: "torch.cuda.max_memory_allocated (allocator peak; excludes cache and CUDA context)",
    False: "estimate: parameters + gradients + optimizer state + tensors saved for backward "
    "(activations, batch)",
}


def _context(
    config: ExperimentConfig, probe: ProbeConfig, device: torch.device, split: Split | None
) -> ProbeContext:
    """Data on the device and the numerics ``fit`` would use there."""
    numerics = resolve_numerics(config.train, device)
    source = split or load_split(config.data)
    return ProbeContext(
        config=config,
        probe=probe,
        device=device,
        split=source.to(device, dtype=numerics.data_dtype, memory_format=numerics.memory_format),
        numerics=numerics,
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
