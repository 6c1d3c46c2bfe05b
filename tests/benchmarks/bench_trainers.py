"""What each kind of trainer costs the orchestrator per trial, beyond the training itself.

Rows (ms per trial; each against a reference run in the same process):

- **command, the door**: a command trial through the worker's door (``TrainerCache.train``:
  arguments, environment, the child in its own group, its report read, the result made)
  against ``subprocess.run`` of the same command line: the difference is the
  orchestrator's own time per command trial beyond the child's run.
- **command, whole round**: a round of command trials (store, sampler, provenance and all)
  against the same number of bare ``subprocess.run`` calls.
- **Hydra app in the worker**: a round whose trainer is a Hydra app that trains nothing
  against the same round with the equivalent plain function (``trainers.own_noop``).
- **Hydra app in its own process**: the same app run apart (``trainer.subprocess=true``)
  against ``python -m`` of the app itself (Hydra's own start-up included in both).

    uv run python -m tests.benchmarks.bench_trainers
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import optuna

from orchestrator.config.experiment import Experiment
from orchestrator.config.params import ParamSchema, ParamType
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.config.trainer_settings import (
    CommandSettings,
    FunctionSettings,
    HydraAppSettings,
    TrainerSettings,
)
from orchestrator.rounds.validate import parse_round
from orchestrator.store.storage import create_storage
from orchestrator.trainers.cache import TrainerCache
from orchestrator.trainers.child.run import child_env
from orchestrator.trainers.hydra_app.compose import app_tree
from orchestrator.trainers.protocol import TrialPlace
from orchestrator.trainers.reports import Reports
from orchestrator.work.claims import FileClaimLock
from orchestrator.work.loop import WorkerOptions, run_round

ROOT = Path(__file__).resolve().parents[2]
COMMAND = (sys.executable, str(ROOT / "tests" / "support" / "noop_command.py"))
OBJECTIVE = {"metric": "val_error", "direction": "minimize"}
NUISANCE = {
    "lr": {"low": 1e-3, "high": 1.0, "log": True},
    "momentum": {"low": 0.5, "high": 0.99},
}
TYPES = {"lr": ParamType(float), "momentum": ParamType(float)}


def own(settings: TrainerSettings) -> Experiment:
    tree = {"objective": OBJECTIVE, "lr": 0.1, "momentum": 0.9}
    return Experiment(tree, ParamSchema(TYPES, builtin=False), settings, None, None)


def app(subprocess_: bool = False) -> Experiment:
    settings = HydraAppSettings("tests.support.noop_app.app.main", subprocess=subprocess_)
    located, tree, types = app_tree(settings)
    tree["objective"] = OBJECTIVE
    return Experiment(tree, ParamSchema(types, builtin=False), located, None, None)


def bare_runs(argv: list[str], runs: int, env: dict[str, str]) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        subprocess.run(argv, env=env, check=True, capture_output=True)
    return (time.perf_counter() - start) / runs


def door(experiment: Experiment, runs: int, tmp: Path) -> float:
    cache = TrainerCache()
    cache.ready(experiment)
    start = time.perf_counter()
    for n in range(runs):
        place = TrialPlace(f"bench#{n}", tmp / str(n))
        cache.train(experiment, Reports("val_error", False), place)
    return (time.perf_counter() - start) / runs


def round_per_trial(experiment: Experiment, trials: int, tmp: Path) -> float:
    raw = RoundConfig(name="bench", nuisance=dict(NUISANCE),
                      budget=BudgetConfig(trials_per_study=trials))  # fmt: skip
    rnd = parse_round(raw, experiment)
    storage = create_storage(StorageConfig(url=f"sqlite:///{tmp}/s.db", heartbeat_interval=10))
    options = WorkerOptions(
        artifacts_dir=tmp / "artifacts", progress=False, claim=FileClaimLock(tmp / "claim.lock")
    )
    start = time.perf_counter()
    run_round(rnd, experiment, storage, options)
    return (time.perf_counter() - start) / trials


def median_pair(repeats: int, measure) -> tuple[float, float]:  # noqa: ANN001
    refs, ours = [], []
    for r in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            ref, our = measure(Path(d), r)
            refs.append(ref)
            ours.append(our)
    return statistics.median(refs), statistics.median(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    n = args.trials
    command = own(CommandSettings(COMMAND, args="argparse"))
    function = own(FunctionSettings("tests.support.trainers.own_noop"))
    argv = [*COMMAND, "--lr", "0.1", "--momentum", "0.9"]

    def env(tmp: Path) -> dict[str, str]:
        tmp.mkdir(parents=True, exist_ok=True)
        return child_env(command, TrialPlace("bench", tmp))

    def command_door(tmp: Path, r: int) -> tuple[float, float]:
        return bare_runs(argv, n, env(tmp / "ref")), door(command, n, tmp / "door")

    def command_round(tmp: Path, r: int) -> tuple[float, float]:
        return bare_runs(argv, n, env(tmp / "ref")), round_per_trial(command, n, tmp)

    def app_in_worker(tmp: Path, r: int) -> tuple[float, float]:
        (tmp / "f").mkdir()
        (tmp / "a").mkdir()
        return round_per_trial(function, n * 5, tmp / "f"), round_per_trial(
            app(), n * 5, tmp / "a"
        )

    def app_apart(tmp: Path, r: int) -> tuple[float, float]:
        runs = max(n // 8, 3)
        app_argv = [sys.executable, "-m", "tests.support.noop_app.app", f"hydra.run.dir={tmp}/h"]
        return bare_runs(app_argv, runs, env(tmp / "ref")), door(app(True), runs, tmp / "door")

    print(f"{n} trials per row (Hydra app in the worker: {n * 5}), median of {args.repeats}")
    print(f"{'row':<34}{'reference':>20}{'ms':>9}{'orchestrator':>14}{'extra ms':>10}{'ratio':>7}")
    rows = (
        ("command, the door", "subprocess.run", command_door),
        ("command, whole round", "subprocess.run", command_round),
        ("Hydra app in the worker (round)", "function (round)", app_in_worker),
        ("Hydra app in its own process", "python -m app", app_apart),
    )
    for label, reference, measure in rows:
        ref, ours = median_pair(args.repeats, measure)
        print(
            f"{label:<34}{reference:>20}{ref * 1e3:>9.1f}{ours * 1e3:>14.1f}"
            f"{(ours - ref) * 1e3:>10.1f}{ours / ref:>7.2f}"
        )


if __name__ == "__main__":
    main()
