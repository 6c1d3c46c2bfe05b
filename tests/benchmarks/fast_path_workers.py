"""The fast-path benchmark's shared set-up and the worker processes it starts.

A cold trial can only be measured in a fresh process, and several workers on one GPU
are several processes, so ``bench_fast_path`` starts this module as a child:

    python -m tests.benchmarks.fast_path_workers trials '<json>'      # one worker's round
    python -m tests.benchmarks.fast_path_workers throughput '<json>'  # one of k GPU workers

The payload carries ``spawned``, the parent's clock when it started the child, so the
child's times include interpreter start-up and imports. Each child prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import optuna

from orchestrator.config.experiment import Experiment, builtin_experiment
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.rounds.space import Round
from orchestrator.rounds.validate import parse_round
from orchestrator.store.storage import create_storage
from orchestrator.train.cache import TrainCache
from orchestrator.train.config import ExperimentConfig, ModelConfig
from orchestrator.train.data import load_split
from orchestrator.train.loop import fit
from orchestrator.work.loop import WorkerOptions, run_round

TRAINER = "orchestrator.train.fit"
# Every trial trains the same network for the same steps; only the rate varies, in a
# range where airbench neither diverges nor stalls, so trials cost the same.
NUISANCE = {"optimizer.lr": {"low": 0.1, "high": 0.3, "log": True}}


def fast_config(
    *,
    width: int,
    batch_size: int,
    steps: int,
    device: str = "auto",
    precision: str = "auto",
    compile: bool = False,
    num_examples: int = 5000,
    threads: int | None = None,
) -> ExperimentConfig:
    """airbench on the synthetic CIFAR-shaped data, with crop and flip like airbench."""
    cfg = ExperimentConfig()
    cfg.data.num_examples = num_examples
    cfg.data.crop_padding, cfg.data.hflip = 2, True
    cfg.model = ModelConfig(
        name="airbench", depth=3, width=width, activation="gelu", init="default"
    )
    cfg.optimizer.lr, cfg.optimizer.nesterov = 0.2, True
    t = cfg.train
    t.steps, t.batch_size, t.eval_every = steps, batch_size, max(1, steps // 3)
    t.device, t.precision, t.compile, t.threads = device, precision, compile, threads
    return cfg


def lr_round(start: Experiment, trials: int) -> Round:
    """One study whose trials differ only in ``optimizer.lr``, with a budget of ``trials``."""
    raw = RoundConfig(
        name="bench",
        goal="per-trial wall time",
        nuisance=dict(NUISANCE),
        budget=BudgetConfig(trials_per_study=trials),
    )
    return parse_round(raw, start)


def run_trials(
    config: ExperimentConfig, trials: int, storage: optuna.storages.BaseStorage, tmp: Path
) -> list[optuna.trial.FrozenTrial]:
    """Bring the round's one study to ``trials`` finished trials; return them in order."""
    start = builtin_experiment(config, TRAINER)
    summaries = run_round(
        lr_round(start, trials),
        start,
        storage,
        WorkerOptions(artifacts_dir=tmp / "artifacts", progress=False),
    )
    study = optuna.load_study(study_name=summaries[0].name, storage=storage)
    done = [t for t in study.get_trials(deepcopy=False) if t.datetime_complete is not None]
    return sorted(done, key=lambda t: t.number)


def quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")  # Optuna's experimental-feature warnings


def trials_child(payload: dict[str, Any]) -> dict[str, Any]:
    """A fresh worker runs a round of ``trials`` trials; times are since it was spawned."""
    imported = time.time() - payload["spawned"]
    quiet()
    start = fast_config(**payload["config"])
    with tempfile.TemporaryDirectory() as d:
        storage = create_storage(StorageConfig(url=f"sqlite:///{d}/worker.db"))
        done = run_trials(start, payload["trials"], storage, Path(d))
    return {
        "imported": imported,
        "trials": [
            [
                t.datetime_start.timestamp() - payload["spawned"],
                t.datetime_complete.timestamp() - payload["spawned"],
            ]
            for t in done
        ],
    }


def throughput_child(payload: dict[str, Any]) -> dict[str, Any]:
    """One of k workers sharing a GPU: warm up, wait for "go", then train until the deadline.

    Counts whole trials (``fit`` calls on the worker's resident data) finished in its
    window; the window ends with its last trial, so a trial is never counted in part.
    """
    cfg = fast_config(**payload["config"])
    split, cache = load_split(cfg.data), TrainCache()
    fit(cfg, data=split, cache=cache)  # warm: CUDA context, data on the device, compiled graphs
    print("ready", flush=True)
    sys.stdin.readline()  # the parent's "go", sent to every worker at once
    begin = time.perf_counter()
    deadline, count = begin + payload["seconds"], 0
    while time.perf_counter() < deadline:
        cfg.train.seed = count  # another trial, same cost
        fit(cfg, data=split, cache=cache)
        count += 1
    elapsed = time.perf_counter() - begin
    return {"trials": count, "seconds": elapsed}


def main() -> None:
    mode, payload = sys.argv[1], json.loads(sys.argv[2])
    child = {"trials": trials_child, "throughput": throughput_child}[mode]
    print(json.dumps(child(payload)), flush=True)


if __name__ == "__main__":
    main()
