"""The orchestrator's per-trial overhead against plain Optuna ask/tell on the same storage.

Both sides run the same number of trials of a two-parameter search with a trainer that
returns at once and reports one intermediate value, on a fresh SQLite file each. The
reference is the minimal loop a person would write (ask, suggest, report, tell); the
orchestrator adds what it is for: round provenance, the trial config built and
validated, the constraint for infeasibility, one result attribute, budget accounting,
and, with heartbeats on, Optuna's heartbeat thread (one heartbeat row and one stale-trial
query per trial). The last row compares with Optuna's own ``study.optimize``, which runs
the same heartbeat: the like-for-like reference. The last row compares the same round over
an own config's keys with a plain function trainer (a DictConfig built and a ``report``
hook per trial) against the built-in path. Prints ms per trial and the ratios.

    make bench-overhead         # or: uv run python -m tests.benchmarks.bench_overhead
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna

from orchestrator.config.experiment import Experiment, builtin_experiment
from orchestrator.config.params import ParamSchema, ParamType
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.config.trainer_settings import FunctionSettings
from orchestrator.rounds.validate import parse_round
from orchestrator.store.storage import create_storage
from orchestrator.work.claims import FileClaimLock
from orchestrator.work.loop import WorkerOptions, run_round

NUISANCE = {
    "optimizer.lr": {"low": 1e-3, "high": 1.0, "log": True},
    "optimizer.momentum": {"low": 0.5, "high": 0.99},
}


def plain_ask_tell(storage: optuna.storages.BaseStorage, trials: int) -> float:
    study = optuna.create_study(
        study_name="plain", storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    start = time.perf_counter()
    for _ in range(trials):
        trial = study.ask()
        trial.suggest_float("optimizer.lr", 1e-3, 1.0, log=True)
        trial.suggest_float("optimizer.momentum", 0.5, 0.99)
        trial.report(0.5, 1)
        study.tell(trial, 0.5)
    return (time.perf_counter() - start) / trials


def plain_optimize(storage: optuna.storages.BaseStorage, trials: int) -> float:
    """The like-for-like baseline with heartbeats: Optuna's own optimize loop runs them."""
    study = optuna.create_study(
        study_name="plain-optimize", storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
    )

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_float("optimizer.lr", 1e-3, 1.0, log=True)
        trial.suggest_float("optimizer.momentum", 0.5, 0.99)
        trial.report(0.5, 1)
        return 0.5

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return (time.perf_counter() - start) / trials


# The same search over an own config's keys, trained by a plain function trainer.
OWN = Experiment(
    {"objective": {"metric": "val_error", "direction": "minimize"}, "lr": 0.1, "momentum": 0.9},
    ParamSchema({"lr": ParamType(float), "momentum": ParamType(float)}, builtin=False),
    FunctionSettings("tests.support.trainers.own_noop"),
    seed_key=None,
    length_key=None,
)


def orchestrated(
    storage: optuna.storages.BaseStorage, trials: int, tmp: Path, own: bool = False
) -> float:
    nuisance = {k.removeprefix("optimizer."): v for k, v in NUISANCE.items()} if own else NUISANCE
    raw = RoundConfig(
        name="bench",
        goal="overhead",
        nuisance=dict(nuisance),
        budget=BudgetConfig(trials_per_study=trials),
    )
    start_cfg = OWN if own else builtin_experiment(trainer="tests.support.trainers.noop")
    rnd = parse_round(raw, start_cfg)
    start = time.perf_counter()
    options = WorkerOptions(
        artifacts_dir=tmp / "artifacts",
        progress=False,
        claim=FileClaimLock(tmp / "claim.lock"),  # what the CLI uses: each claim re-counts
    )
    run_round(rnd, start_cfg, storage, options)
    return (time.perf_counter() - start) / trials


def measure(
    trials: int, repeats: int, heartbeat: int | None, baseline: Callable[..., float]
) -> tuple[float, float]:
    plain, ours = [], []
    for r in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            cfg = StorageConfig(url=f"sqlite:///{tmp}/p{r}.db", heartbeat_interval=heartbeat)
            plain.append(baseline(create_storage(cfg), trials))
            cfg = StorageConfig(url=f"sqlite:///{tmp}/o{r}.db", heartbeat_interval=heartbeat)
            ours.append(orchestrated(create_storage(cfg), trials, tmp))
    return statistics.median(plain), statistics.median(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")  # ask/tell on a heartbeat store warns; that is the point
    print(f"{args.trials} trials, no-op trainer, SQLite (WAL), median of {args.repeats}")
    print(f"{'reference':<40}{'ref ms/trial':>13}{'orchestrator':>14}{'ratio':>8}")
    rows = (
        ("ask/tell, heartbeat off", None, plain_ask_tell),
        ("ask/tell, heartbeat on (it runs none)", 10, plain_ask_tell),
        ("study.optimize, heartbeat on", 10, plain_optimize),
    )
    for label, heartbeat, baseline in rows:
        plain, ours = measure(args.trials, args.repeats, heartbeat, baseline)
        print(f"{label:<40}{plain * 1e3:>13.2f}{ours * 1e3:>14.2f}{ours / plain:>8.2f}")
    builtin, own = measure_own(args.trials, args.repeats)
    print(
        f"{'own keys + function trainer vs built-in':<40}{builtin * 1e3:>13.2f}"
        f"{own * 1e3:>14.2f}{own / builtin:>8.2f}"
    )


def measure_own(trials: int, repeats: int) -> tuple[float, float]:
    """The built-in path (reference) and the own-config function-trainer path, heartbeat on."""
    builtin, own = [], []
    for r in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            for out, is_own in ((builtin, False), (own, True)):
                cfg = StorageConfig(url=f"sqlite:///{tmp}/{is_own}{r}.db", heartbeat_interval=10)
                out.append(orchestrated(create_storage(cfg), trials, tmp / str(is_own), is_own))
    return statistics.median(builtin), statistics.median(own)


if __name__ == "__main__":
    main()
