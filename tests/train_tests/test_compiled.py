"""torch.compile once per worker: later trials reuse the graphs; a broken compiler says so."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import torch
from torch._dynamo.utils import counters

from orchestrator.exceptions import ConfigError
from orchestrator.train import compiled
from orchestrator.train.cache import TrainCache
from orchestrator.train.config import ModelConfig
from orchestrator.train.loop import fit
from tests.support.experiments import tiny_experiment


class CountingBackend:
    """A dynamo backend that runs the captured graphs eagerly and counts compiles and calls.

    Tracing and guards are dynamo's own, so "no new compile" means the guards of the first
    trial's graphs passed for the second trial's model, and "calls" proves they ran.
    """

    def __init__(self) -> None:
        self.compiles = 0
        self.calls = 0

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list) -> object:
        self.compiles += 1

        def run(*args: object) -> object:
            self.calls += 1
            return gm.forward(*args)

        return run


@pytest.fixture
def backend(monkeypatch) -> CountingBackend:
    counting = CountingBackend()
    monkeypatch.setattr(compiled, "BACKEND", counting)
    compiled.reset()
    yield counting
    compiled.reset()


@pytest.fixture
def cache() -> TrainCache:
    """One worker's cache: what the second trial finds of the first."""
    return TrainCache()


def run(cache: TrainCache, seed: int = 0, depth: int = 2, compile: bool = True, **model: object):
    cfg = tiny_experiment(steps=20, eval_every=10, compile=compile, seed=seed)
    cfg.model = ModelConfig(name="airbench", width=8, depth=depth, activation="gelu", **model)
    cfg.optimizer.lr = 0.2
    return fit(cfg, cache=cache)


def test_a_second_trial_with_a_new_model_reuses_the_compiled_graphs(backend, cache):
    run(cache, seed=0)
    assert backend.compiles >= 2  # training and evaluation graphs
    assert (cache.compile_stats.hits, cache.compile_stats.misses) == (0, 1)
    compiles, graphs = backend.compiles, counters["stats"]["unique_graphs"]
    calls = backend.calls

    run(cache, seed=1)  # a new model instance, new weights, same architecture and shapes
    assert backend.compiles == compiles  # no recompile...
    assert counters["stats"]["unique_graphs"] == graphs
    assert backend.calls - calls == 20 + 2  # ...and the compiled graphs ran: steps + evals
    assert (cache.compile_stats.hits, cache.compile_stats.misses) == (1, 1)

    run(cache, seed=0, depth=3)  # another architecture is compiled on its own
    assert backend.compiles > compiles and cache.compile_stats.misses == 2


def test_compiling_changes_no_number_and_the_warm_up_leaves_the_seeded_streams_alone(
    backend, cache
):
    eager = run(cache, compile=False, use_dropout=True)  # dropout draws from the global stream
    first = run(cache, use_dropout=True)  # compiles, warming up on a copy first
    again = run(cache, use_dropout=True)  # finds it compiled
    assert cache.compile_stats.misses == 1 and cache.compile_stats.hits == 1
    assert first.curves == eager.curves == again.curves


def test_a_missing_cxx_compiler_is_one_clear_error_naming_the_knob(cache):
    import torch._inductor.config as inductor

    compiled.reset()
    broken = {"cpp.cxx": (None, "no-such-c++"), "fx_graph_cache": False}  # no cached kernels
    try:
        with inductor.patch(broken), pytest.raises(ConfigError) as info:
            run(cache)
    finally:
        compiled.reset()
    message = str(info.value)
    assert info.value.key == "train.compile"
    assert "InvalidCxxCompiler: No working C++ compiler found" in message
    assert "install gcc/g++" in message and "set train.compile=false" in message
    assert "\n" not in message


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="inductor on a CPU needs g++")
def test_inductor_on_cpu_trains_like_eager(cache):
    compiled.reset()
    try:
        eager = run(cache, compile=False)
        inductor = run(cache)
    finally:
        compiled.reset()
    assert inductor.status == "completed" and inductor.steps == eager.steps
    assert len(inductor.curves.train_loss) == len(eager.curves.train_loss)
    assert abs(inductor.objective - eager.objective) < 0.1  # fused kernels round differently
    assert inductor.curves.train_loss[-1] == pytest.approx(eager.curves.train_loss[-1], abs=0.1)


def test_the_training_library_loads_neither_optuna_nor_hydra():
    """train/ stays usable from a plain script: compile and the fast path included."""
    code = (
        "import sys, orchestrator.train, orchestrator.train.compiled, orchestrator.train.airbench;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'optuna', 'hydra', 'omegaconf'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
