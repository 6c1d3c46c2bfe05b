"""The training loop: ``fit(config) -> TrainResult``.

One readable loop (set the rate, step, record, check, evaluate) with no Optuna or Hydra
in sight. Per-step metrics (loss, gradient norm, update/weight ratio) are written into
tensors on the device and read back only every ``train.metrics_every`` steps and at
evaluations, so a GPU is never synchronised on every step. Divergence (a non-finite
loss, or one past ``train.divergence_factor`` times the initial loss) stops the run
and is reported with its step and reason; it never becomes a NaN objective.

The fast path is set up once per run in ``_setup``: precision, layout and fused
optimizer from ``numerics.py``, the data set kept on the device by ``resident.py``,
augmentation as batch ops (``loader.py``), and ``torch.compile`` once per worker
(``compiled.py``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from orchestrator.train.cache import TrainCache
from orchestrator.train.compiled import Forward, compile_key, compiled_forward
from orchestrator.train.config import ExperimentConfig, TrainConfig, validate_experiment
from orchestrator.train.data import Split, load_split
from orchestrator.train.loader import DeviceBatches
from orchestrator.train.models import build_model
from orchestrator.train.numerics import Numerics, resolve_numerics
from orchestrator.train.optim import build_optimizer, lr_at
from orchestrator.train.resident import resident_split
from orchestrator.train.result import Curves, TrainResult, finite_or_none
from orchestrator.train.tracker import RunTracker

EvalCallback = Callable[[int, dict[str, float]], bool | None]
"""Called after each evaluation with (step, metrics); returning True stops training early.

The metrics hold ``val_loss``, ``val_error``, ``val_accuracy``, ``train_loss`` (mean since
the previous evaluation) and ``lr``. Exceptions raised by the callback propagate.
"""


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device=cuda but torch sees no CUDA device; use auto or cpu")
    return torch.device(name)


@dataclass
class _Recorder:
    """Per-step metrics kept on the device until the next host sync."""

    loss: torch.Tensor
    grad_norm: torch.Tensor
    update_ratio: torch.Tensor

    @classmethod
    def for_steps(cls, steps: int, device: torch.device) -> _Recorder:
        def empty() -> torch.Tensor:
            return torch.full((steps,), float("nan"), device=device)

        return cls(empty(), empty(), empty())


def fit(
    config: ExperimentConfig,
    on_eval: EvalCallback | None = None,
    *,
    progress: bool = False,
    data: Split | None = None,
    cache: TrainCache | None = None,
) -> TrainResult:
    """Train ``config`` once and return its objective, outcome and curves.

    Args:
        config: the full experiment; validated first (``ConfigError`` names a bad key).
        on_eval: optional callback after each evaluation (see ``EvalCallback``).
        progress: show a progress bar on stderr.
        data: an already loaded split to reuse (else ``config.data`` is loaded); a worker
            passes the same one to every trial, and its device copy is then made once.
        cache: what to keep for the next run in this process (compiled graphs' warm-up,
            the device copy of ``data``); a worker passes its own. None keeps nothing.
    """
    validate_experiment(config)
    start = time.perf_counter()
    t = config.train
    run = _setup(config, data, cache if cache is not None else TrainCache())
    curves = Curves()
    state = RunTracker(config)
    checked, train_time = _train(config, run, state, curves, on_eval, progress)
    return state.result(
        steps=checked,
        curves=curves,
        device=str(run.numerics.device),
        num_params=sum(p.numel() for p in run.params),
        wall_time_s=time.perf_counter() - start,
        train_time_s=train_time,
        examples=checked * t.batch_size,
    )


def _train(
    config: ExperimentConfig,
    run: _Run,
    state: RunTracker,
    curves: Curves,
    on_eval: EvalCallback | None,
    progress: bool,
) -> tuple[int, float]:
    """The steps, until the budget, a divergence or a stop: the steps checked, the seconds.

    The host syncs only every ``metrics_every`` steps and at evaluations, so the seconds
    counted are the training's, evaluation excluded.
    """
    t = config.train
    rec = _Recorder.for_steps(t.steps, run.numerics.device)
    lrs: list[float] = []
    bar = tqdm(total=t.steps, disable=not progress, unit="step", dynamic_ncols=True)
    train_time, checked = 0.0, 0
    run.model.train()
    tick = time.perf_counter()
    for i in range(t.steps):
        lr = lr_at(i, t.steps, config.optimizer.lr, config.schedule)
        lrs.append(lr)
        _step(run, rec, i, lr, t.grad_clip_norm, measure_update=i % t.metrics_every == 0)

        step = i + 1
        is_eval = step % t.eval_every == 0 or step == t.steps
        if step % t.metrics_every == 0 or is_eval:
            # The only host syncs: every metrics_every steps and at evaluations.
            if run.numerics.on_cuda:
                torch.cuda.synchronize()
            train_time += time.perf_counter() - tick
            losses = rec.loss[checked:step].tolist()
            state.check_divergence(losses, checked, t.divergence_factor)
            bar.update(step - checked)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", lr=f"{lr:.3g}")
            checked = step
            if not state.diverged and is_eval:
                _evaluate_at(step, lr, run, rec, state, curves, on_eval, t)
            tick = time.perf_counter()
            if state.diverged or state.stopped:
                break
    bar.close()
    _fill_step_curves(curves, rec, lrs, checked, t.metrics_every)
    return checked, train_time


def _evaluate_at(
    step: int,
    lr: float,
    run: _Run,
    rec: _Recorder,
    state: RunTracker,
    curves: Curves,
    on_eval: EvalCallback | None,
    t: TrainConfig,
) -> None:
    """Evaluate, record, tell the tracker, then the callback (which may stop the run)."""
    metrics = _evaluate(run.forward, run.split, t.eval_batch_size, run.numerics)
    run.model.train()
    metrics["train_loss"] = _mean_finite(rec.loss[state.last_eval : step].tolist())
    metrics["lr"] = lr
    _record_eval(curves, step, metrics)
    state.observe(step, metrics)
    if on_eval is not None and on_eval(step, dict(metrics)) and step < t.steps:
        state.stopped = True


@dataclass
class _Run:
    """What the steps of one run use: built once by ``_setup``."""

    numerics: Numerics
    split: Split
    model: nn.Module
    forward: Forward
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    params: list[nn.Parameter]
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]]


def _setup(config: ExperimentConfig, data: Split | None, cache: TrainCache) -> _Run:
    """Device, data, model (compiled when asked), optimizer and batches, in seed order."""
    t = config.train
    numerics = resolve_numerics(t, resolve_device(t.device))
    if t.threads:
        torch.set_num_threads(t.threads)
    if numerics.on_cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest conv kernels
    torch.manual_seed(t.seed)  # initialisation and dropout; data order has its own generator
    split = resident_split(data or load_split(config.data), numerics, cache)
    model = build_model(
        config.model, split.input_shape, split.num_classes, init_data=split.x_train
    )
    model = model.to(numerics.device).to(memory_format=numerics.memory_format)
    batches = DeviceBatches(  # before compiling: a batch larger than the data fails at once
        split.x_train,
        split.y_train,
        batch_size=t.batch_size,
        generator=torch.Generator(device=numerics.device).manual_seed(t.seed),
        crop_padding=config.data.crop_padding,
        hflip=config.data.hflip,
        memory_format=numerics.memory_format,
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=t.label_smoothing)
    forward: Forward = model
    if t.compile:
        forward = _compiled(config, model, split, numerics, loss_fn, cache)
    optimizer = build_optimizer(
        config.optimizer, model.parameters(), fused=numerics.fused_optimizer
    )
    params = [p for p in model.parameters() if p.requires_grad]
    scaler = numerics.grad_scaler()
    return _Run(numerics, split, model, forward, loss_fn, optimizer, scaler, params, iter(batches))


def _compiled(
    config: ExperimentConfig,
    model: nn.Module,
    split: Split,
    numerics: Numerics,
    loss_fn: nn.Module,
    cache: TrainCache,
) -> Forward:
    """The compiled model; the first run of its key in ``cache`` compiles it up front.

    The warm-up runs what the run will: one training step's forward and backward on a
    batch shaped and laid out like ``DeviceBatches`` makes them, and a full evaluation.
    """
    t = config.train

    def warmup(forward: Forward, module: nn.Module) -> None:
        module.train()
        x = split.x_train[: t.batch_size].contiguous(memory_format=numerics.memory_format)
        with numerics.autocast():
            loss = loss_fn(forward(x), split.y_train[: t.batch_size])
        loss.backward()
        _evaluate(forward, split, t.eval_batch_size, numerics)

    key = compile_key(
        model=dataclasses.asdict(config.model),
        input_shape=split.input_shape,
        num_classes=split.num_classes,
        numerics=repr(numerics),
        batch_size=t.batch_size,
        eval_batch_size=t.eval_batch_size,
        val_size=split.x_val.shape[0],
    )
    return compiled_forward(model, key=key, warmup=warmup, cache=cache)


def _step(
    run: _Run, rec: _Recorder, i: int, lr: float, clip: float | None, *, measure_update: bool
) -> None:
    """One optimizer update; its loss, gradient norm (and update ratio) stay on the device."""
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    x, y = next(run.batches)
    with run.numerics.autocast():
        loss = run.loss_fn(run.forward(x), y)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.unscale_(run.optimizer)  # fp16: true gradients for the norm and clipping
    rec.loss[i] = loss.detach()
    rec.grad_norm[i] = _grad_norm(run.params, clip)
    before = [p.detach().clone() for p in run.params] if measure_update else None
    run.scaler.step(run.optimizer)
    run.scaler.update()
    if before is not None:
        rec.update_ratio[i] = _update_ratio(run.params, before)


def _fill_step_curves(
    curves: Curves, rec: _Recorder, lrs: list[float], steps_run: int, every: int
) -> None:
    """Copy the per-step records of the steps actually run into the curves, after the loop."""
    curves.train_loss = [finite_or_none(v) for v in rec.loss[:steps_run].tolist()]
    curves.grad_norm = [finite_or_none(v) for v in rec.grad_norm[:steps_run].tolist()]
    curves.lr = lrs[:steps_run]
    ratio = rec.update_ratio[:steps_run].tolist()
    curves.update_ratio_step = [k + 1 for k in range(0, steps_run, every)]
    curves.update_ratio = [finite_or_none(ratio[k - 1]) for k in curves.update_ratio_step]


def _grad_norm(params: list[nn.Parameter], clip: float | None) -> torch.Tensor:
    """Global gradient norm before clipping; clips in place when ``clip`` is set."""
    grads = [p.grad for p in params if p.grad is not None]
    if clip is not None:
        return torch.nn.utils.clip_grad_norm_(params, clip)
    return torch.nn.utils.get_total_norm(grads)


def _update_ratio(params: list[nn.Parameter], before: list[torch.Tensor]) -> torch.Tensor:
    """|w_after - w_before| / |w_before| over all parameters: a cheap check on the rate."""
    deltas = torch._foreach_sub([p.detach() for p in params], before)
    norm = torch.nn.utils.get_total_norm
    return norm(deltas) / norm(before).clamp_min(1e-12)


@torch.no_grad()
def _evaluate(
    forward: Forward, split: Split, batch_size: int, numerics: Numerics
) -> dict[str, float]:
    """Validation loss (plain cross-entropy), error and accuracy over the whole split."""
    module = getattr(forward, "_orig_mod", forward)
    if isinstance(module, nn.Module):
        module.eval()
    total_loss = torch.zeros((), device=split.x_val.device)
    wrong = torch.zeros((), device=split.x_val.device, dtype=torch.int64)
    n = split.x_val.shape[0]
    for start in range(0, n, batch_size):
        x = split.x_val[start : start + batch_size]
        y = split.y_val[start : start + batch_size]
        with numerics.autocast():
            logits = forward(x).float()
        total_loss += nn.functional.cross_entropy(logits, y, reduction="sum")
        wrong += (logits.argmax(1) != y).sum()
    val_loss, val_error = total_loss.item() / n, wrong.item() / n
    return {"val_loss": val_loss, "val_error": val_error, "val_accuracy": 1.0 - val_error}


def _record_eval(curves: Curves, step: int, metrics: dict[str, float]) -> None:
    curves.eval_step.append(step)
    curves.val_loss.append(finite_or_none(metrics["val_loss"]))
    curves.val_error.append(finite_or_none(metrics["val_error"]))


def _mean_finite(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")
