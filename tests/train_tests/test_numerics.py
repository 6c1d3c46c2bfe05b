"""The speed knobs: what they resolve to per device, and that runs with them stay sane on CPU."""

from __future__ import annotations

import math

import pytest
import torch

from orchestrator.train import loop
from orchestrator.train.config import ModelConfig, TrainConfig
from orchestrator.train.loop import fit
from orchestrator.train.numerics import Numerics, resolve_numerics
from tests.support.experiments import tiny_experiment

CPU, CUDA = torch.device("cpu"), torch.device("cuda")  # a CUDA *device name* needs no GPU


@pytest.mark.parametrize(
    ("precision", "device", "dtype"),
    [
        ("auto", CPU, None),  # the README's CPU numbers are fp32
        ("fp32", CPU, None),
        ("bf16", CPU, torch.bfloat16),
        ("fp16", CPU, torch.float16),
        ("auto", CUDA, torch.bfloat16),
        ("fp32", CUDA, None),
        ("fp16", CUDA, torch.float16),
    ],
)
def test_precision_sets_autocast_and_the_dtype_the_data_is_stored_in(precision, device, dtype):
    n = resolve_numerics(TrainConfig(precision=precision), device)
    assert n.autocast_dtype == dtype
    assert n.data_dtype == (dtype or torch.float32)
    assert n.loss_scaling == (dtype == torch.float16)  # a GradScaler for fp16 only
    if device == CPU:  # (a CUDA scaler switches itself off where there is no GPU)
        assert n.grad_scaler().is_enabled() == n.loss_scaling


def test_channels_last_and_fused_optimizers_apply_on_cuda_only():
    nhwc, nchw = torch.channels_last, torch.contiguous_format
    assert resolve_numerics(TrainConfig(channels_last=True), CUDA).memory_format == nhwc
    assert resolve_numerics(TrainConfig(channels_last=False), CUDA).memory_format == nchw
    assert resolve_numerics(TrainConfig(channels_last=True), CPU).memory_format == nchw
    assert resolve_numerics(TrainConfig(), CUDA).fused_optimizer
    assert not resolve_numerics(TrainConfig(), CPU).fused_optimizer


def airbench_run(**train: object) -> dict:
    cfg = tiny_experiment(steps=30, eval_every=15, **train)
    cfg.model = ModelConfig(name="airbench", width=8, depth=2, activation="gelu")
    cfg.optimizer.lr = 0.2
    return fit(cfg).to_dict()


@pytest.fixture(scope="module")
def fp32_run() -> dict:
    return airbench_run(precision="fp32")


def same_shape_and_sane(run: dict, reference: dict) -> None:
    assert run["status"] == "completed" and run["steps"] == reference["steps"]
    for key, values in run["curves"].items():
        assert len(values) == len(reference["curves"][key]), key
    losses = [v for v in run["curves"]["train_loss"] if v is not None]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]
    # mixed precision moves the numbers a little, not the outcome
    assert abs(run["objective"] - reference["objective"]) < 0.15
    assert abs(losses[-1] - reference["curves"]["train_loss"][-1]) < 0.3


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_on_cpu_trains_like_fp32(precision, fp32_run):
    same_shape_and_sane(airbench_run(precision=precision), fp32_run)


def test_storing_the_data_in_the_autocast_dtype_changes_no_number(monkeypatch):
    """The first layer casts its input to bf16 under autocast anyway: storing it so is free.

    (For the CNN; airbench's whitening statistics are computed from the stored images, so
    there they follow the dtype the network sees.)
    """

    def cnn_run() -> dict:
        cfg = tiny_experiment(steps=30, eval_every=15, precision="bf16")
        cfg.data.crop_padding, cfg.data.hflip = 2, True  # the padding zeros are exact too
        return fit(cfg).to_dict()

    dtypes: list[torch.dtype] = []
    real = loop.resident_split

    def spy(split, numerics, cache):
        resident = real(split, numerics, cache)
        dtypes.append(resident.x_train.dtype)
        return resident

    monkeypatch.setattr(loop, "resident_split", spy)
    stored_bf16 = cnn_run()
    monkeypatch.setattr(Numerics, "data_dtype", property(lambda self: torch.float32))
    stored_fp32 = cnn_run()
    assert dtypes == [torch.bfloat16, torch.float32]
    assert stored_bf16["curves"] == stored_fp32["curves"]


def test_the_channels_last_path_runs_end_to_end_on_cpu(monkeypatch, fp32_run):
    """The CUDA layout, forced on a CPU: batches reach the model in NHWC and it trains alike."""
    real_resolve, real_build = loop.resolve_numerics, loop.build_model
    layouts: list[bool] = []

    def nhwc(t: TrainConfig, device: torch.device) -> Numerics:
        n = real_resolve(t, device)
        return Numerics(n.device, n.autocast_dtype, torch.channels_last, n.fused_optimizer)

    def spied(*args, **kwargs):
        model = real_build(*args, **kwargs)
        model.register_forward_pre_hook(
            lambda _, inputs: layouts.append(
                inputs[0].is_contiguous(memory_format=torch.channels_last)
            )
        )
        return model

    monkeypatch.setattr(loop, "resolve_numerics", nhwc)
    monkeypatch.setattr(loop, "build_model", spied)
    run = airbench_run(precision="fp32")
    assert layouts and all(layouts)  # training and evaluation batches alike
    same_shape_and_sane(run, fp32_run)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_the_step_loop_never_waits_for_the_gpu():
    """Host syncs happen at set-up, metric reads and evaluations only: not per step.

    With metrics read and evaluation done once, at the end, a run of 40 steps must sync
    exactly as often as one of 20 (a per-step sync would add 20).
    """
    import warnings

    def syncs(steps: int) -> int:
        cfg = tiny_experiment(steps=steps, eval_every=steps, metrics_every=steps, device="cuda")
        cfg.model = ModelConfig(name="airbench", width=8, depth=2, activation="gelu")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fit(cfg)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in caught)

    syncs(20)  # cuDNN autotuning and first-use allocations happen once per process
    assert syncs(40) == syncs(20)
