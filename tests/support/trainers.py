"""Trainers used by tests to exercise the trainer contract without training a network."""

from __future__ import annotations

import gc
import json
import math
import time
import weakref
from typing import Any

from orchestrator.train.config import ExperimentConfig


def analytic(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """A user-style trainer: objective = a known function of the config, returned as a dict."""
    value = abs(config.optimizer.lr - 0.1) + 0.01 * config.model.depth
    if on_eval is not None:
        on_eval(config.train.steps, {"val_error": value})
    return {
        "status": "completed",
        "objective": value,
        "best_step": config.train.steps,
        "metric": config.objective.metric,
        "direction": config.objective.direction,
        "steps": config.train.steps,
        "max_steps": config.train.steps,
        "final": {"val_error": value},
    }


def depth_1_far_behind(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """Like ``analytic``, but depth 1 is worse by 10 everywhere: a value to race out."""
    result = analytic(config, on_eval)
    if config.model.depth == 1:
        result["objective"] += 10.0
        result["final"] = {"val_error": result["objective"]}
    return result


def broken(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """Breaks the contract: a NaN objective for a run that claims to have completed."""
    return {**analytic(config), "objective": float("nan")}


def _diverged(config: ExperimentConfig) -> dict[str, Any]:
    return {
        "status": "diverged",
        "objective": None,
        "best_step": None,
        "metric": config.objective.metric,
        "direction": config.objective.direction,
        "steps": 3,
        "max_steps": config.train.steps,
        "diverged_step": 3,
        "divergence_reason": f"training loss exploded at lr {config.optimizer.lr:.3g}",
    }


def diverges_above_1(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """Like ``analytic``, but any learning rate above 1 diverges."""
    return _diverged(config) if config.optimizer.lr > 1.0 else analytic(config, on_eval)


def raises_above_1(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """Like ``analytic``, but any learning rate above 1 raises (a bug in user code)."""
    if config.optimizer.lr > 1.0:
        raise RuntimeError(f"boom at lr {config.optimizer.lr:.3g}")
    return analytic(config, on_eval)


def always_raises(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    raise RuntimeError("this trainer is broken")


class _Allocation:
    """Stands for what a failed run allocated (model, optimizer, batches)."""


HELD: list[weakref.ref[_Allocation]] = []  # one weak reference per failed trial
ALIVE_AT_START: list[bool] = []  # per trial: did an earlier trial's allocation survive?


def raises_holding_memory(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """Allocates, then fails (like a CUDA OOM); first records whether anything an earlier
    failed trial allocated is still alive (held by its exception's traceback)."""
    gc.collect()
    ALIVE_AT_START.append(any(ref() is not None for ref in HELD))
    allocation = _Allocation()
    HELD.append(weakref.ref(allocation))
    raise RuntimeError(f"out of memory (test) with {type(allocation).__name__}")


def slow(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """``analytic`` that takes a second, so a test can kill a round mid-trial."""
    import time

    time.sleep(1.0)
    return analytic(config, on_eval)


def noop(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """Returns at once: measures the orchestrator's own per-trial cost (one report)."""
    if on_eval is not None:
        on_eval(1, {config.objective.metric: 0.5})
    return {
        "status": "completed",
        "objective": 0.5,
        "best_step": 1,
        "metric": config.objective.metric,
        "direction": config.objective.direction,
        "steps": 1,
        "max_steps": 1,
    }


NOISE = 0.01  # the standard deviation of a run's objective across seeds


def true_objective(config: ExperimentConfig) -> float:
    """The noiseless objective ``noisy`` is built on (tests plant differences in it)."""
    return abs(config.optimizer.lr - 0.1) + 0.01 * config.model.depth + config.data.label_noise


def noisy(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """``true_objective`` plus seed noise: independent across seeds and across configs, as
    when two different networks are trained with the same seed."""
    import hashlib
    import json
    import random

    from orchestrator.train.config import experiment_to_dict

    key = json.dumps(experiment_to_dict(config), sort_keys=True).encode()
    rng = random.Random(hashlib.sha256(key).hexdigest())
    value = true_objective(config) + rng.gauss(0.0, NOISE)
    result = analytic(config, on_eval)
    return {**result, "objective": value, "final": {"val_error": value}}


def timed(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """``noop`` that takes ``ORCHESTRATOR_TEST_TRIAL_SECONDS`` (default 0): load tests and
    the parallel-efficiency benchmark, where the trial's length is the point."""
    import os
    import time

    time.sleep(float(os.environ.get("ORCHESTRATOR_TEST_TRIAL_SECONDS", "0")))
    finished = os.environ.get("ORCHESTRATOR_TEST_FINISHED_LOG")
    if finished:  # one line per finished training: the audit's "lost" compares the store
        o, m = config.optimizer, config.model
        point = {"lr": o.lr, "momentum": o.momentum, "depth": m.depth, "dropout": m.use_dropout}
        line = json.dumps({**point, "rate": m.dropout if m.use_dropout else None})
        with open(finished, "a") as f:
            f.write(line + "\n")
    threads = os.environ.get("ORCHESTRATOR_TEST_THREADS_LOG")
    if threads:  # the torch threads the trial ran with (a SLURM job: its CPUs)
        import torch

        with open(threads, "a") as f:
            f.write(f"{torch.get_num_threads()}\n")
    return noop(config, on_eval)


def chaos(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """``timed``, but the worker named in ``ORCHESTRATOR_TEST_CHAOS`` sends itself a signal
    mid-trial, once: items "<worker>:<SIGNAL>[:<seconds into the trial>]" or
    "<worker>:<SIGNAL>:<worker>-<SIGNAL>" (wait until that other signal was sent),
    comma-separated. Marker files in ``ORCHESTRATOR_TEST_CHAOS_DIR`` record what was sent,
    so re-runs of the same command are clean."""
    import os
    import signal
    import time
    from pathlib import Path

    me = os.environ.get("ORCHESTRATOR_WORKER")  # set for every worker process
    for item in filter(None, os.environ.get("ORCHESTRATOR_TEST_CHAOS", "").split(",")):
        worker, name, *after = item.split(":")
        marker = Path(os.environ["ORCHESTRATOR_TEST_CHAOS_DIR"]) / f"{worker}-{name}"
        if worker == me and not marker.exists():
            marker.write_text(str(os.getpid()))
            if after and not after[0].replace(".", "").isdigit():  # "<worker>-<SIGNAL>" first
                other = marker.parent / after[0]
                deadline = time.monotonic() + 120
                while not other.exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
                after = ["1.0"]  # and give that worker a second to handle its signal
            time.sleep(float(after[0]) if after else 0.2)  # the trial is RUNNING meanwhile
            os.kill(os.getpid(), getattr(signal, name))
            time.sleep(5)  # a handled SIGTERM interrupts this sleep
    return timed(config, on_eval)


def exits_once(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """Calls ``sys.exit(-1)`` in its first trial, as submitit does on preemption (SIGUSR1);
    the marker file ``ORCHESTRATOR_TEST_CHAOS_DIR/exited`` makes later trials normal."""
    import os
    import sys
    from pathlib import Path

    marker = Path(os.environ["ORCHESTRATOR_TEST_CHAOS_DIR"]) / "exited"
    if not marker.exists():
        marker.write_text("1")
        sys.exit(-1)
    return noop(config, on_eval)


def exits_twice(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """``exits_once``, twice: the first trial and its retry both end in ``sys.exit(-1)``, as
    a SLURM job requeued twice (time limit, preemption) would (markers ``exited-1``, ``-2``)."""
    import os
    import sys
    from pathlib import Path

    folder = Path(os.environ["ORCHESTRATOR_TEST_CHAOS_DIR"])
    for n in (1, 2):
        marker = folder / f"exited-{n}"
        if not marker.exists():
            marker.write_text(str(n))
            sys.exit(-1)
    return noop(config, on_eval)


def locks_the_store_once(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """Returns, but first has another connection take SQLite's write lock on
    ``ORCHESTRATOR_TEST_DB`` for ``ORCHESTRATOR_TEST_LOCK_SECONDS``, once: recording the
    trial then meets a real "database is locked" (a store briefly unavailable)."""
    import os
    import sqlite3
    import threading
    from pathlib import Path

    marker = Path(os.environ["ORCHESTRATOR_TEST_CHAOS_DIR"]) / "locked"
    if not marker.exists():
        marker.write_text("1")
        held = threading.Event()

        def hold() -> None:
            conn = sqlite3.connect(os.environ["ORCHESTRATOR_TEST_DB"], isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            held.set()
            threading.Event().wait(float(os.environ["ORCHESTRATOR_TEST_LOCK_SECONDS"]))
            conn.execute("ROLLBACK")
            conn.close()

        threading.Thread(target=hold, daemon=True).start()
        held.wait()
    return noop(config, on_eval)


def own_noop(cfg: Any, report: Any = None) -> float:
    """``noop`` for an own config (a DictConfig of the user's keys): the function-trainer
    path's per-trial cost, with one report and a plain number returned."""
    if report is not None:
        report(1, val_error=0.5)
    return 0.5


def own_raises_above(cfg: Any, report: Any = None) -> float:
    """``own_noop`` whose learning rate above ``cfg.breaks_above`` raises (a bug in user
    code, deep in a helper as it usually is)."""
    if cfg.lr > cfg.breaks_above:
        _helper_that_breaks(cfg.lr)
    return own_noop(cfg, report)


def _helper_that_breaks(lr: float) -> None:
    raise ValueError(f"the loss exploded at lr {lr:.3g}")


def own_pair(cfg: Any, report: Any = None) -> tuple[float, dict[str, float]]:
    """``return val_loss, {"acc": acc}``, as common training scripts end."""
    return 0.5, {"acc": 0.8}


def own_two_numbers(cfg: Any, report: Any = None) -> tuple[float, float]:
    """``return loss, acc``: which one is the objective, it does not say."""
    return 0.5, 0.8


def own_slow(cfg: Any, report: Any = None) -> float:
    """``own_noop`` that takes 0.3 s per epoch: a signal sent during a trial lands in one."""
    for epoch in range(1, int(cfg.epochs) + 1):
        time.sleep(0.3)
        if report is not None:
            report(epoch, val_error=0.5)
    return 0.5


def reports_and_finals(cfg: Any, report: Any = None) -> float:
    """Reports one value, gives final metrics through ``trial_report``, returns a number."""
    from trial_report import final

    report(1, val_acc=0.5)
    final(val_acc=0.4, test_acc=0.9)
    return 0.4


def planted_curve(cfg: Any, report: Any = None) -> float:
    """An own-keys trainer with a known curve: ``loss(step) = x + 1/step`` for
    ``cfg.steps`` steps, so a larger ``x`` is worse at every step (the pruning tests plant
    a loser and a winner by their ``x``). Stops when told."""
    loss = math.inf
    for step in range(1, int(cfg.steps) + 1):
        loss = float(cfg.x) + 1.0 / step
        if report is not None and report(step, loss=loss):
            break
    return loss


def swept(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """A learning-rate sweep's planted curves: the loss falls faster as the rate grows to
    0.1 and ends higher above it (the sweep must choose 0.1); above 1 it diverges."""
    import numpy as np

    lr, steps, every = config.optimizer.lr, config.train.steps, config.train.eval_every
    base = {"metric": config.objective.metric, "direction": config.objective.direction}
    if lr > 1.0:
        return {**_diverged(config), "divergence_reason": "loss is nan"}
    t = np.arange(1, steps + 1)
    floor = 0.2 + 0.4 * max(0.0, math.log10(lr / 0.1))
    loss = floor + (2.3 - floor) * np.exp(-t / (30.0 / min(lr / 0.1, 1.0)))
    evals = list(range(every, steps + 1, every))
    val = [float(loss[s - 1] / 3) for s in evals]
    best = int(np.argmin(val))
    for step, value in zip(evals, val, strict=True):
        if on_eval is not None:
            on_eval(step, {"val_error": value})
    curves = {
        "train_loss": loss.tolist(), "lr": [lr] * steps, "grad_norm": [1.0] * steps,
        "update_ratio_step": [], "update_ratio": [], "eval_step": evals,
        "val_loss": [2 * v for v in val], "val_error": val,
    }  # fmt: skip
    return {**base, "status": "completed", "objective": val[best], "best_step": evals[best],
            "steps": steps, "max_steps": steps, "final": {"val_error": val[-1]},
            "curves": curves}  # fmt: skip


def fails_first_attempt(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """``analytic``, but a learning rate above 0.3 fails its first attempt at each point
    (a passing fault: another job took the memory); a marker file per (depth, lr, momentum)
    in ``ORCHESTRATOR_TEST_MARKERS`` makes the retry succeed, so the same points fail in
    every run that starts with an empty marker folder."""
    import os
    from pathlib import Path

    o = config.optimizer
    marker = Path(os.environ["ORCHESTRATOR_TEST_MARKERS"]) / (
        f"{config.model.depth}-{o.lr!r}-{o.momentum!r}"
    )
    if o.lr > 0.3 and not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError(f"out of memory (test) at lr {o.lr:.3g}")
    return analytic(config, on_eval)


def broken_while_marked(config: ExperimentConfig, on_eval: Any = None) -> dict[str, Any]:
    """Raises the same error while the file ``ORCHESTRATOR_TEST_BROKEN`` exists (a bug the
    user has not fixed yet); ``analytic`` once it is removed (the fix)."""
    import os
    from pathlib import Path

    if Path(os.environ["ORCHESTRATOR_TEST_BROKEN"]).exists():
        raise ValueError("the data loader found no files")
    return analytic(config, on_eval)


def own_deterministic(cfg: Any, report: Any = None) -> float:
    """An own-keys trainer with a deterministic objective, ``(x - 3)^2 / 4 + 0.25``: the
    same ``x`` gives the same value, whatever the seed (no noise to quote)."""
    value = (float(cfg.x) - 3.0) ** 2 / 4 + 0.25
    if report is not None:
        report(1, loss=value)
    return value
