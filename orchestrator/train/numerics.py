"""How a run computes on its device: precision, memory layout, optimizer kernel, loss scaling.

The ``train`` knobs (``precision``, ``channels_last``, ``compile``) say what is wanted;
``resolve_numerics`` turns them into what this device does, in one place, so the loop,
the data cache and the batch-size probe agree:

- ``precision``: ``auto`` is bf16 autocast on CUDA (fp16 where the GPU has no bf16) and
  fp32 on a CPU, where the README's numbers were measured; ``bf16`` and ``fp16`` autocast
  on any device; fp16 adds loss scaling (a ``GradScaler``) against gradient underflow.
  The data set is stored on the device in the autocast dtype: the first layer casts its
  input to that dtype anyway, so storing it so is lossless and halves the bytes every
  batch gather and augmentation moves.
- ``channels_last``: the model and the stored data in NHWC on CUDA (convolutions run in
  that layout on tensor cores). Ignored on a CPU, where it changes the convolution
  algorithms and so the README's reproducible numbers.
- fused optimizer kernels (one launch for all parameters) on CUDA, where torch has them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from orchestrator.train.config import TrainConfig

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Numerics:
    """The resolved numerics of one run on one device."""

    device: torch.device
    autocast_dtype: torch.dtype | None  # None: plain fp32
    memory_format: torch.memory_format
    fused_optimizer: bool

    @property
    def data_dtype(self) -> torch.dtype:
        """The dtype the data set is stored in on the device."""
        return self.autocast_dtype or torch.float32

    @property
    def on_cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """Mixed precision for the forward pass (and the loss), or nothing in fp32."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    @property
    def loss_scaling(self) -> bool:
        """fp16 only: its range is too small for small gradients (bf16 has fp32's range)."""
        return self.autocast_dtype == torch.float16

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A loss scaler, live only with ``loss_scaling``.

        Disabled, every call on it is a pass-through, so the loop has a single code path.
        On CUDA with a fused optimizer the scaler's inf check stays on the device (no host
        sync per step); elsewhere ``step`` reads it on the host, which a CPU does not mind.
        """
        return torch.amp.GradScaler(self.device.type, enabled=self.autocast_dtype == torch.float16)


def resolve_numerics(t: TrainConfig, device: torch.device) -> Numerics:
    """What ``train.precision`` and ``train.channels_last`` mean on ``device``."""
    on_cuda = device.type == "cuda"
    nhwc = on_cuda and t.channels_last
    return Numerics(
        device=device,
        autocast_dtype=_autocast_dtype(t.precision, device),
        memory_format=torch.channels_last if nhwc else torch.contiguous_format,
        fused_optimizer=on_cuda,
    )


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision in _DTYPES:
        return _DTYPES[precision]
    if precision == "auto" and device.type == "cuda":
        return torch.bfloat16 if _cuda_has_bf16(device) else torch.float16
    return None


def _cuda_has_bf16(device: torch.device) -> bool:
    """bf16 tensor cores (Ampere and later); asked only when a GPU is really there."""
    if not torch.cuda.is_available():
        return True  # a planned CUDA run (tests, config checks): assume a current GPU
    with torch.cuda.device(device):
        return bool(torch.cuda.is_bf16_supported())
