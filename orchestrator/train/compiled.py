"""``torch.compile`` once per worker process, reused by every later trial of the same shape.

A first compile costs seconds on a GPU (minutes with max-autotune) and 10-30 s on this
2-core CPU: paid per trial it would dwarf a 3 s trial (performance.md 7). Dynamo keeps
its compiled graphs per Python code object (``forward``) and, since parameters are
graph inputs (inlined built-in modules, always on in torch >= 2.5), a new model instance
of the same architecture passes the guards of the graphs compiled for an earlier one.
So a worker compiles each (architecture, input shape, dtype, layout) once and every
later trial of it starts warm.

What this module adds on top: each new key is compiled up front, on a throwaway copy of
the model and with the random state restored (the warm-up), so compile time is spent
before the timed steps and an unusable compiler fails there with one clear error; the
keys already compiled, with hit and miss counts, kept in the caller's ``TrainCache``;
and a recompile limit raised to fit a round's handful of architectures.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from orchestrator.exceptions import ConfigError
from orchestrator.train.cache import TrainCache

Forward = Callable[[torch.Tensor], torch.Tensor]
Warmup = Callable[[Forward, nn.Module], None]

# A name or a dynamo backend callable; tests swap in one that counts compiles and calls.
BACKEND: str | Callable[..., Any] = "inductor"
# Dynamo's default limit (8 graphs per code object) is less than one worker meets: every
# architecture of a round (depth 1..3 x dropout on/off) in train and eval mode is a graph
# of the same ``forward``. Past the limit it silently runs eager.
RECOMPILE_LIMIT = 64


def compile_key(**parts: Any) -> str:
    """A stable key from what decides the compiled graphs (config, shapes, dtype, layout)."""
    return json.dumps(parts, sort_keys=True, default=str)


def compiled_forward(model: nn.Module, *, key: str, warmup: Warmup, cache: TrainCache) -> Forward:
    """``model`` compiled; on the first use of ``key`` in ``cache``, warmed up first.

    ``warmup(forward, module)`` must run every shape and mode the run will use (a
    training step with backward, evaluation batches) on ``module``, a copy of ``model``
    that is then dropped; the random state is restored afterwards, so a warmed-up run
    draws the same numbers as one that found its key compiled.

    Raises:
        ConfigError: ``train.compile`` when the backend cannot compile (no C++ compiler
            on a CPU, no Triton on a GPU).
    """
    dynamo = torch._dynamo.config
    dynamo.recompile_limit = max(dynamo.recompile_limit, RECOMPILE_LIMIT)
    forward: Forward = torch.compile(model, backend=BACKEND)
    with cache.lock:
        if key in cache.compiled:
            cache.compile_stats.hits += 1
            return forward
        cache.compile_stats.misses += 1
        _warm_up(model, warmup)
        cache.compiled.add(key)
    return forward


def _warm_up(model: nn.Module, warmup: Warmup) -> None:
    device = next(model.parameters()).device
    devices = [device] if device.type == "cuda" else []
    twin = copy.deepcopy(model)
    with torch.random.fork_rng(devices=devices):
        try:
            warmup(torch.compile(twin, backend=BACKEND), twin)
        except torch._dynamo.exc.BackendCompilerFailed as err:
            inner = getattr(err, "inner_exception", None) or err
            lines = str(inner).strip().splitlines() or [""]
            cause = f"{type(inner).__name__}: {lines[0]}"
            raise ConfigError(
                "train.compile",
                f"torch.compile ({BACKEND}) cannot build for {device.type}: {cause}. On a CPU "
                "it needs a working C++ compiler (install gcc/g++, or set CXX); on a GPU, "
                "Triton. Or set train.compile=false",
            ) from err


def reset() -> None:
    """Forget dynamo's compiled code in this process (tests)."""
    torch._dynamo.reset()
