"""The training loop: ``fit(config) -> TrainResult``.

One readable loop (set the rate, step, record, check, evaluate) with no Optuna or Hydra
in sight. Per-step metrics (loss, gradient norm, update/weight ratio) are written into
tensors on the device and read back only every ``train.metrics_every`` steps and at
evaluations, so a GPU is never synchronised on every step. Divergence (a non-finite
loss, or one past ``train.divergence_factor`` times the initial loss) stops the run
and is reported with its step and reason; it never becomes a NaN objective.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from orchestrator.train.config import METRIC_DIRECTIONS, ExperimentConfig, validate_experiment
from orchestrator.train.data import Split, load_split
from orchestrator.train.loader import DeviceBatches
from orchestrator.train.models import build_model
from orchestrator.train.optim import build_optimizer, lr_at
from orchestrator.train.result import Curves, TrainResult, finite_or_none

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
) -> TrainResult:
    """Train ``config`` once and return its objective, outcome and curves.

    Args:
        config: the full experiment; validated first (``ConfigError`` names a bad key).
        on_eval: optional callback after each evaluation (see ``EvalCallback``).
        progress: show a progress bar on stderr.
        data: an already loaded split to reuse (else ``config.data`` is loaded).
    """
    validate_experiment(config)
    start = time.perf_counter()
    t = config.train
    device = resolve_device(t.device)
    if t.threads:
        torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed)  # initialisation and dropout; data order has its own generator
    split = (data or load_split(config.data)).to(device)

    on_cuda = device.type == "cuda"
    memory_format = torch.channels_last if on_cuda and t.channels_last else torch.contiguous_format
    model = build_model(config.model, split.input_shape, split.num_classes)
    model = model.to(device, memory_format=memory_format)
    forward = torch.compile(model) if t.compile else model
    optimizer = build_optimizer(config.optimizer, model.parameters(), fused=on_cuda)
    params = [p for p in model.parameters() if p.requires_grad]
    generator = torch.Generator(device=device).manual_seed(t.seed)
    batches = iter(
        DeviceBatches(
            split.x_train,
            split.y_train,
            batch_size=t.batch_size,
            generator=generator,
            crop_padding=config.data.crop_padding,
            hflip=config.data.hflip,
            memory_format=memory_format,
        )
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=t.label_smoothing)
    use_bf16 = t.precision == "bf16" or (t.precision == "auto" and on_cuda)

    def autocast() -> contextlib.AbstractContextManager[None]:
        if not use_bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)

    rec = _Recorder.for_steps(t.steps, device)
    lrs: list[float] = []
    curves = Curves()
    state = _Outcome(config)
    bar = tqdm(total=t.steps, disable=not progress, unit="step", dynamic_ncols=True)
    train_time, checked = 0.0, 0
    model.train()
    tick = time.perf_counter()
    for i in range(t.steps):
        lr = lr_at(i, t.steps, config.optimizer.lr, config.schedule)
        for group in optimizer.param_groups:
            group["lr"] = lr
        lrs.append(lr)
        x, y = next(batches)
        with autocast():
            loss = loss_fn(forward(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        rec.loss[i] = loss.detach()
        rec.grad_norm[i] = _grad_norm(params, t.grad_clip_norm)
        before = [p.detach().clone() for p in params] if i % t.metrics_every == 0 else None
        optimizer.step()
        if before is not None:
            rec.update_ratio[i] = _update_ratio(params, before)

        step = i + 1
        is_eval = step % t.eval_every == 0 or step == t.steps
        if step % t.metrics_every == 0 or is_eval:
            if on_cuda:
                torch.cuda.synchronize()
            train_time += time.perf_counter() - tick
            losses = rec.loss[checked:step].tolist()
            state.check_divergence(losses, checked, t.divergence_factor)
            bar.update(step - checked)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", lr=f"{lr:.3g}")
            checked = step
            if not state.diverged and is_eval:
                metrics = _evaluate(forward, split, t.eval_batch_size, autocast)
                model.train()
                metrics["train_loss"] = _mean_finite(rec.loss[state.last_eval : step].tolist())
                metrics["lr"] = lr
                _record_eval(curves, step, metrics)
                state.observe(step, metrics)
                if on_eval is not None and on_eval(step, dict(metrics)) and step < t.steps:
                    state.stopped = True
            tick = time.perf_counter()
            if state.diverged or state.stopped:
                break
    bar.close()

    steps_run = checked
    curves.train_loss = [finite_or_none(v) for v in rec.loss[:steps_run].tolist()]
    curves.grad_norm = [finite_or_none(v) for v in rec.grad_norm[:steps_run].tolist()]
    curves.lr = lrs[:steps_run]
    ratio = rec.update_ratio[:steps_run].tolist()
    curves.update_ratio_step = [k + 1 for k in range(0, steps_run, t.metrics_every)]
    curves.update_ratio = [finite_or_none(ratio[k - 1]) for k in curves.update_ratio_step]
    return state.result(
        steps=steps_run,
        curves=curves,
        device=str(device),
        num_params=sum(p.numel() for p in params),
        wall_time_s=time.perf_counter() - start,
        train_time_s=train_time,
        examples=steps_run * t.batch_size,
    )


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
    forward: Callable[[torch.Tensor], torch.Tensor],
    split: Split,
    batch_size: int,
    autocast: Callable[[], contextlib.AbstractContextManager[None]],
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
        with autocast():
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


class _Outcome:
    """Tracks the best evaluation, divergence and early stopping; builds the result."""

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.metric = config.objective.metric
        self.maximize = METRIC_DIRECTIONS[self.metric] == "maximize"
        self.best: float | None = None
        self.best_step: int | None = None
        self.final: dict[str, float] = {}
        self.initial_loss: float | None = None
        self.diverged_step: int | None = None
        self.reason: str | None = None
        self.stopped = False
        self.last_eval = 0

    @property
    def diverged(self) -> bool:
        return self.diverged_step is not None

    def check_divergence(self, losses: list[float], offset: int, factor: float) -> None:
        """Mark the first step whose loss is non-finite or above factor x the initial loss."""
        for k, loss in enumerate(losses):
            step = offset + k + 1
            if not math.isfinite(loss):
                self._diverge(step, f"non-finite training loss ({loss})")
                return
            if self.initial_loss is None:
                self.initial_loss = loss
            elif loss > factor * self.initial_loss:
                self._diverge(
                    step,
                    f"training loss {loss:.4g} exceeded {factor:g}x the initial loss "
                    f"{self.initial_loss:.4g}",
                )
                return

    def observe(self, step: int, metrics: dict[str, float]) -> None:
        """Take an evaluation: a non-finite validation loss is divergence, else track the best."""
        self.last_eval = step
        if not math.isfinite(metrics["val_loss"]):
            self._diverge(step, f"non-finite validation loss ({metrics['val_loss']})")
            return
        self.final = {k: v for k, v in metrics.items() if k != "lr"}
        value = metrics[self.metric]
        better = self.best is None or (value > self.best if self.maximize else value < self.best)
        if better:
            self.best, self.best_step = value, step

    def _diverge(self, step: int, reason: str) -> None:
        self.diverged_step, self.reason = step, reason

    def result(
        self, *, steps: int, examples: int, train_time_s: float, **kwargs: object
    ) -> TrainResult:
        if self.diverged:
            status, objective, best_step = "diverged", None, None
        else:
            status = "stopped" if self.stopped else "completed"
            objective, best_step = self.best, self.best_step
        return TrainResult(
            status=status,  # type: ignore[arg-type]
            objective=objective,
            best_step=best_step,
            metric=self.metric,
            direction=self.config.objective.direction,
            steps=steps,
            max_steps=self.config.train.steps,
            final=self.final,
            diverged_step=self.diverged_step,
            divergence_reason=self.reason,
            seed=self.config.train.seed,
            train_time_s=train_time_s,
            examples_per_s=examples / train_time_s if train_time_s > 0 else 0.0,
            **kwargs,  # type: ignore[arg-type]
        )
