"""Hyperband against no pruning in an exploitation round: compute spent and quality reached.

The default synthetic task at a size a CPU runs in about a second a trial (the test
suite's ``tiny_experiment``: 16 px images, 1,200 examples, a 16-wide CNN; 200 steps,
evaluated every 20): one study, TPE over the learning rate and momentum, the same seeds
for both arms. Compute is the steps trained, summed over the round's trials (a pruned
trial counts the steps it ran); quality is the round's best validation error. Prints each
seed and the ratio of compute, and the best errors with their spread across seeds.

    uv run python -m tests.benchmarks.bench_pruning [--seeds 3] [--trials 27]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import optuna

from orchestrator.config.experiment import builtin_experiment
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.rounds.validate import parse_round
from orchestrator.store.storage import create_storage
from orchestrator.work.loop import WorkerOptions, run_round
from tests.support.experiments import tiny_experiment

NUISANCE = {
    "optimizer.lr": {"low": 1e-3, "high": 3.0, "log": True},
    "optimizer.momentum": {"low": 0.5, "high": 0.99},
}


def one_round(
    pruner: str, seed: int, trials: int, tmp: Path, min_resource: int | None = None
) -> tuple[int, float, float, list[tuple[int, float]]]:
    """(steps trained, best validation error, seconds, the anytime curve) of one round: the
    curve is (steps spent so far, best so far) after each trial, in the order they ran."""
    start = builtin_experiment(tiny_experiment(steps=200, eval_every=20))
    raw = RoundConfig(
        name=f"{pruner}-{seed}",
        nuisance=dict(NUISANCE),
        budget=BudgetConfig(
            trials_per_study=trials,
            sampler="tpe",
            seed=seed,
            pruner=pruner,
            pruner_min_resource=min_resource,
        ),
    )
    rnd = parse_round(raw, start)
    storage = create_storage(StorageConfig(url=f"sqlite:///{tmp}/{pruner}{seed}.db"))
    began = time.perf_counter()
    run_round(rnd, start, storage, WorkerOptions(artifacts_dir=tmp / "a", progress=False))
    seconds = time.perf_counter() - began
    study = optuna.load_study(study_name=rnd.name, storage=storage)
    spent, best, curve = 0, float("inf"), []
    for t in sorted(study.trials, key=lambda t: t.number):
        spent += t.user_attrs.get("result", {}).get("steps") or 0
        if t.value is not None and t.state == optuna.trial.TrialState.COMPLETE:
            best = min(best, t.value)
        curve.append((spent, best))
    return spent, study.best_value, seconds, curve


def steps_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    """The steps spent when the best so far first reached ``target`` (None: never)."""
    return next((spent for spent, best in curve if best <= target), None)


def per_report_cost(trials: int, reports: int = 10) -> None:
    """ms per ``should_prune`` (what each report costs with a pruner on) in a SQLite study of
    ``trials`` finished trials with ``reports`` intermediate values each, against
    ``trial.report`` alone."""
    from orchestrator.rounds.pruning import PRUNERS, make_pruner

    with tempfile.TemporaryDirectory() as d:
        storage = create_storage(StorageConfig(url=f"sqlite:///{d}/cost.db"))
        for name in PRUNERS[1:]:
            study = optuna.create_study(
                study_name=name, storage=storage, pruner=make_pruner(BudgetConfig(pruner=name))
            )
            for n in range(trials):
                trial = study.ask()
                for step in range(1, reports + 1):
                    trial.report(1.0 / step + n * 1e-3, step)
                study.tell(trial, 0.1 + n * 1e-3)
            trial = study.ask()
            began = time.perf_counter()
            for step in range(1, reports + 1):
                trial.report(0.5 / step, step)
            report_ms = (time.perf_counter() - began) / reports * 1e3
            began = time.perf_counter()
            for _ in range(reports):
                trial.should_prune()
            prune_ms = (time.perf_counter() - began) / reports * 1e3
            print(f"{name:>19}: report {report_ms:.2f} ms, should_prune {prune_ms:.2f} ms "
                  f"({trials} finished trials)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=27)
    parser.add_argument(
        "--min-resource", type=int, default=None, help="hyperband's, in steps (default: 40%%)"
    )
    parser.add_argument("--pruned-trials", type=int, default=None, help="default: 2 x trials")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    rows: dict[str, list] = {"none": [], "hyperband": []}
    budget = {"none": args.trials, "hyperband": args.pruned_trials or 2 * args.trials}
    print(
        f"{args.trials} trials per round, TPE, seeds 0..{args.seeds - 1}, hyperband "
        f"min_resource {args.min_resource or 'unset (40% of the 200 steps: 80)'} (evaluations "
        "every 20 steps)"
    )
    print(f"{'seed':>4}{'pruner':>11}{'steps':>9}{'best val_error':>16}{'seconds':>9}")
    with tempfile.TemporaryDirectory() as d:
        for seed in range(args.seeds):
            for pruner in rows:
                steps, best, seconds, curve = one_round(
                    pruner, seed, budget[pruner], Path(d), args.min_resource
                )
                rows[pruner].append((steps, best, seconds, curve))
                print(f"{seed:>4}{pruner:>11}{steps:>9,}{best:>16.4f}{seconds:>9.1f}")
    for pruner, runs in rows.items():
        bests = [r[1] for r in runs]
        spread = statistics.stdev(bests) if len(bests) > 1 else 0.0
        print(
            f"{pruner:>11} ({budget[pruner]} trials): {statistics.mean(r[0] for r in runs):>9,.0f}"
            f" steps, best {statistics.mean(bests):.4f} +- {spread:.4f} (sd over seeds), "
            f"{statistics.mean(r[2] for r in runs):.1f} s"
        )
    # Compute at equal quality: per seed, the steps hyperband had spent when its best so far
    # first came within the validation error's sampling noise (1 sd, binomial, 300 images) of
    # the unpruned round's final best, against the unpruned round's whole compute.
    print("seed  unpruned best  hyperband steps to reach it (+ noise)  ratio")
    ratios = []
    for seed, (plain, pruned) in enumerate(zip(rows["none"], rows["hyperband"], strict=True)):
        target = plain[1] + (plain[1] * (1 - plain[1]) / 300) ** 0.5
        reached = steps_to_reach(pruned[3], target)
        ratio = plain[0] / reached if reached else 0.0
        ratios.append(ratio)
        where = f"{reached:,}" if reached else "never"
        print(f"{seed:>4}  {plain[1]:>13.4f}  {where:>37}  {ratio:>5.2f}")
    print(f"compute ratio at equal quality (none / hyperband), median over seeds: "
          f"{statistics.median(ratios):.2f}x")  # fmt: skip
    per_report_cost(200)


if __name__ == "__main__":
    main()
