"""The fast path, measured: the airbench-style model through ``fit``, a trial, and a worker.

Prints, in one run, each against a reference measured in the same run (interleaved
repeats, medians):

1. ``fit``'s training throughput on the fast model against a plain PyTorch loop with a
   per-example ``Dataset`` and a ``DataLoader`` (0 and 2 workers; pinned memory on CUDA);
2. an orchestrated trial (a real round: ``run_round`` on a SQLite store, one study whose
   trials differ only in the rate) against the same training as a standalone ``fit``
   call in the same process; the target is at most 1.05 on a warm worker;
3. cold against warm trials: a fresh worker process running a round, with compile off
   and on (the first trial pays imports, data and compilation);
4. with a GPU: trials per hour with 1, 2 and 4 worker processes on one GPU, and the fast
   model's images/s against airbench94's 130k images/s on an A100. Without one these
   rows say "no GPU" (``--gpu-rows-on-cpu`` runs their code path on the CPU instead).

    make bench            # or: uv run python -m tests.benchmarks.bench_fast_path
    uv run python -m tests.benchmarks.bench_fast_path --steps 100 --repeats 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore, download_artifact

from orchestrator.config.sections import StorageConfig
from orchestrator.store.storage import create_storage
from orchestrator.train.cache import TrainCache
from orchestrator.train.config import ExperimentConfig
from orchestrator.train.data import Split, load_split
from orchestrator.train.loop import fit, resolve_device
from orchestrator.train.numerics import resolve_numerics
from tests.benchmarks.bench_fit import cpu_name, dataloader_loop
from tests.benchmarks.fast_path_workers import fast_config, quiet, run_trials

AIRBENCH_IMAGES_PER_S = 130_000  # airbench94 (eager) on an A100: performance.md 1.1
NO_GPU = "no GPU (torch.cuda.is_available() is False)"


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def describe(cfg: ExperimentConfig) -> str:
    """The knobs as this device applies them, e.g. 'bf16, NHWC, fused, compiled'."""
    n = resolve_numerics(cfg.train, resolve_device(cfg.train.device))
    names = {torch.bfloat16: "bf16", torch.float16: "fp16"}
    parts = [names[n.autocast_dtype] if n.autocast_dtype else "fp32"]
    parts.append("NHWC" if n.memory_format == torch.channels_last else "NCHW")
    parts += ["fused"] * n.fused_optimizer + ["compiled"] * cfg.train.compile
    return ", ".join(parts)


def with_train(cfg: ExperimentConfig, **train: Any) -> ExperimentConfig:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **train))


def loader_rows(
    cfg: ExperimentConfig, fast: ExperimentConfig, split: Split, args: argparse.Namespace
) -> None:
    """Section 1: examples/s of fit (two knob sets) and of DataLoader loops, same model."""
    cache = TrainCache()  # what a worker keeps between trials
    contenders: dict[str, Callable[[], float]] = {
        f"fit ({describe(cfg)})": lambda: fit(cfg, data=split, cache=cache).examples_per_s,
        f"fit ({describe(fast)})": lambda: fit(fast, data=split, cache=cache).examples_per_s,
    }
    for w in args.loader_workers:
        contenders[f"DataLoader, {w} workers (fp32)"] = lambda w=w: dataloader_loop(cfg, split, w)
    for run in contenders.values():  # warm-up: kernels, allocator, the compile
        run()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, run in contenders.items():
            samples[name].append(run())
    rates = {name: statistics.median(v) for name, v in samples.items()}
    plain, fast_rate = rates[next(iter(rates))], list(rates.values())[1]
    print(f"  {'contender':<44}{'examples/s':>11}{'fit / this':>12}{'fast / this':>13}")
    for name, rate in rates.items():
        print(f"  {name:<44}{rate:>11.0f}{plain / rate:>12.2f}{fast_rate / rate:>13.2f}")


def trial_rows(cfg: ExperimentConfig, args: argparse.Namespace) -> None:
    """Section 2: a warm worker's trial against standalone fit calls, interleaved.

    Each repeat runs two more trials in one ``run_round`` call: the first pays what a
    round's start pays (loading the data, opening the study), the second is a warm
    worker's trial, timed from the first one's completion to its own: everything the
    worker does per trial (claim, sample, build the config, train, report, record, tell).
    The order of the two sides alternates (ABBA) so drift hits both alike. On a busy
    machine training speed varies more than the orchestrator costs, so the overhead is
    also measured inside each trial: its cycle minus the ``fit`` call's own wall time.
    """
    split = load_split(cfg.data)
    times: dict[str, list[float]] = {"script": [], "preloaded": [], "cycle": [], "own": []}
    overhead: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        storage = create_storage(StorageConfig(url=f"sqlite:///{d}/bench.db"))
        cache = TrainCache()
        fit(cfg, data=split, cache=cache)  # warm-up of both sides
        budget = len(run_trials(cfg, 1, storage, tmp))

        def standalone() -> None:
            times["script"].append(timed(lambda: fit(cfg)))
            times["preloaded"].append(timed(lambda: fit(cfg, data=split, cache=cache)))

        for r in range(args.trial_repeats):
            if r % 2 == 0:
                standalone()
            budget += 2
            first, second = run_trials(cfg, budget, storage, tmp)[-2:]
            if r % 2 == 1:
                standalone()
            cycle = (second.datetime_complete - first.datetime_complete).total_seconds()
            times["cycle"].append(cycle)
            times["own"].append((second.datetime_complete - second.datetime_start).total_seconds())
            overhead.append(cycle - fit_wall_time(second, tmp / "artifacts"))
    med = {name: statistics.median(v) for name, v in times.items()}
    trial = med["cycle"]
    rows = (
        ("standalone: fit(config), loads and splits data", med["script"]),
        ("standalone: fit(config, data=split)", med["preloaded"]),
        ("orchestrated trial, warm worker (cycle)", trial),
        ("orchestrated trial, stored start->complete", med["own"]),
    )
    print(f"  {'run':<48}{'seconds':>9}{'trial / this':>14}")
    for name, seconds in rows:
        print(f"  {name:<48}{seconds:>9.3f}{trial / seconds:>14.3f}")
    extra = statistics.median(overhead)
    label = "  per-trial overhead outside fit (cycle - fit's own wall time):"
    if math.isnan(extra):
        print(f"{label} n/a (runs this short keep their result inline)")
    else:
        print(f"{label} {extra * 1e3:.0f} ms = {1 + extra / med['preloaded']:.3f}x standalone")


def fit_wall_time(trial: optuna.trial.FrozenTrial, artifacts: Path) -> float:
    """``wall_time_s`` of the fit call inside ``trial`` (from its full result, an artifact)."""
    result = trial.user_attrs["result"]
    if result["status"] != "completed":
        raise RuntimeError(f"benchmark trial {trial.number} did not train fully: {result}")
    if "curves_artifact" not in result:  # short runs keep their curves inline, not the time
        return float("nan")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "result.json"
        download_artifact(
            artifact_store=FileSystemArtifactStore(str(artifacts)),
            file_path=str(path),
            artifact_id=result["curves_artifact"],
        )
        return float(json.loads(path.read_text())["wall_time_s"])


def spawn(mode: str, payload: dict[str, Any], log: Path) -> subprocess.Popen[str]:
    """Start a worker child; its stderr goes to ``log`` (shown only if it fails)."""
    payload = {**payload, "spawned": time.time()}
    command = [sys.executable, "-m", "tests.benchmarks.fast_path_workers", mode]
    with log.open("w") as stderr:  # the child keeps its own handle
        return subprocess.Popen(
            [*command, json.dumps(payload)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def next_line(proc: subprocess.Popen[str], log: Path, *, starts: str) -> str:
    """The child's next stdout line starting with ``starts``; its stderr if it died first."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(starts):
            return line
    proc.wait()
    raise RuntimeError(f"worker exited with {proc.returncode}:\n{log.read_text()[-3000:]}")


def result_of(proc: subprocess.Popen[str], log: Path) -> dict[str, Any]:
    """The child's JSON result line, once it has exited."""
    line = next_line(proc, log, starts="{")
    proc.wait()
    return json.loads(line)


def cold_warm_rows(cfg: ExperimentConfig, args: argparse.Namespace) -> None:
    """Section 3: a fresh process runs a round; its first trial against its later ones."""
    print(
        f"  {'compile':<9}{'imports':>9}{'1st result':>12}{'1st trial':>11}"
        f"{'warm trial':>12}{'cold/warm':>11}{'1st/warm':>10}"
    )
    for compile_ in (False, True):
        config = {**args.config, "compile": compile_}
        with tempfile.TemporaryDirectory() as d:
            log = Path(d) / "stderr.log"
            child = spawn("trials", {"config": config, "trials": args.worker_trials}, log)
            out = result_of(child, log)
        ends = [end for _, end in out["trials"]]
        first = ends[0] - out["trials"][0][0]
        warm = statistics.median([b - a for a, b in zip(ends, ends[1:], strict=False)])
        print(
            f"  {'on' if compile_ else 'off':<9}{out['imported']:>8.2f}s{ends[0]:>11.2f}s"
            f"{first:>10.2f}s{warm:>11.2f}s{ends[0] / warm:>11.2f}{first / warm:>10.2f}"
        )


def workers_rows(args: argparse.Namespace, device: str) -> None:
    """Section 4a: k worker processes training on one device at once; trials per hour."""
    cores = os.cpu_count() or 1
    base = None
    print(f"  {'workers':<9}{'threads each':>13}{'trials/hour':>13}{'vs 1 worker':>13}")
    for k in args.gpu_workers:
        config = {**args.gpu_config, "device": device, "threads": max(1, cores // k)}
        with tempfile.TemporaryDirectory() as d:
            logs = [Path(d) / f"w{i}.log" for i in range(k)]
            payload = {"config": config, "seconds": args.gpu_seconds}
            procs = [spawn("throughput", payload, log) for log in logs]
            for p, log in zip(procs, logs, strict=True):  # all warm before any is timed
                next_line(p, log, starts="ready")
            for p in procs:
                assert p.stdin is not None
                p.stdin.write("go\n")
                p.stdin.flush()
            outs = [result_of(p, log) for p, log in zip(procs, logs, strict=True)]
        per_hour = sum(o["trials"] / o["seconds"] for o in outs) * 3600
        base = base or per_hour
        print(f"  {k:<9}{max(1, cores // k):>13}{per_hour:>13.0f}{per_hour / base:>13.2f}")


def airbench_row(args: argparse.Namespace, device: str) -> None:
    """Section 4b: the fast model's training images/s (warm, compiled) against airbench."""
    cfg = fast_config(**{**args.gpu_config, "device": device})
    split = load_split(cfg.data)
    cache = TrainCache()
    fit(cfg, data=split, cache=cache)  # compile and warm up
    rate = statistics.median(
        fit(cfg, data=split, cache=cache).examples_per_s for _ in range(args.repeats)
    )
    name = torch.cuda.get_device_name() if device == "cuda" else cpu_name()
    print(
        f"  {name} ({describe(cfg)}, batch {cfg.train.batch_size}): {rate:,.0f} images/s, "
        f"{rate / AIRBENCH_IMAGES_PER_S:.3f}x airbench94's 130k images/s (A100)"
    )


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (sections 1-3)")
    p.add_argument("--width", type=int, help="airbench width (default: 64 on cuda, 16 on cpu)")
    p.add_argument("--batch-size", type=int, help="default: 1024 on cuda, 64 on cpu")
    p.add_argument("--steps", type=int, help="steps per run (default: 300 on cuda, 100 on cpu)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--trial-repeats", type=int, default=4, help="section 2 (even: ABBA)")
    p.add_argument("--loader-workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--worker-trials", type=int, default=3, help="trials per fresh worker")
    p.add_argument("--gpu-workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--gpu-seconds", type=float, default=60.0, help="timed window per k")
    p.add_argument("--sections", type=int, nargs="+", default=[1, 2, 3, 4])
    p.add_argument("--gpu-rows-on-cpu", action="store_true", help="check section 4's code")
    args = p.parse_args()
    if args.worker_trials < 2:
        p.error("--worker-trials must be at least 2 (a first trial and a warm one)")
    on_cuda = resolve_device(args.device).type == "cuda"
    args.width = args.width or (64 if on_cuda else 16)
    args.batch_size = args.batch_size or (1024 if on_cuda else 64)
    args.steps = args.steps or (300 if on_cuda else 100)
    args.config = {
        "width": args.width,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "device": args.device,
        "compile": on_cuda,
        # batches of 1024 need more than the default 4,000 training images
        "num_examples": 5000 if args.batch_size <= 256 else 11000,
    }
    small = args.gpu_rows_on_cpu  # the code path on a CPU: small and short
    args.gpu_config = {
        "width": 16 if small else 64,
        "batch_size": 64 if small else 1024,
        "steps": 30 if small else 300,
        "compile": not small,
        "num_examples": 5000 if small else 11000,
    }
    return args


def main() -> None:
    args = parse_args()
    quiet()
    cfg = fast_config(**args.config)
    device = resolve_device(cfg.train.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else cpu_name()
    threads = torch.get_num_threads()
    print(f"device: {device} ({name}), torch {torch.__version__}, threads {threads}")
    print(
        f"model: airbench width {args.width} (depth 3), batch {args.batch_size}, {args.steps} "
        f"steps, crop+flip; medians of {args.repeats} (section 2: {args.trial_repeats}) "
        "interleaved runs"
    )
    print(f"load average at start: {os.getloadavg()[0]:.2f} (a busy machine makes runs noisy)")
    sections = set(args.sections)
    if 1 in sections:
        print("1. fit vs a plain DataLoader loop, same model and data")
        fast = with_train(cfg, precision="bf16", compile=True)
        loader_rows(with_train(cfg, compile=False), fast, load_split(cfg.data), args)
    if 2 in sections:
        print(f"2. an orchestrated trial vs the same run standalone ({describe(cfg)})")
        trial_rows(cfg, args)
    if 3 in sections:
        print(f"3. cold vs warm trials: a fresh worker process runs {args.worker_trials} trials")
        cold_warm_rows(cfg, args)
    if 4 in sections:
        gpu_rows(args)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def gpu_rows(args: argparse.Namespace) -> None:
    """Section 4, on the GPU (or, asked, the CPU); without one the rows say so."""
    gpu = "cuda" if torch.cuda.is_available() else ("cpu" if args.gpu_rows_on_cpu else None)
    print("4a. trials per hour with k workers on one GPU (ratio to 1 worker)")
    if gpu is None:
        print(f"  {NO_GPU}")
    else:
        workers_rows(args, gpu)
    print("4b. fast-model images/s vs airbench94's 130k images/s")
    if gpu is None:
        print(f"  {NO_GPU}")
    else:
        airbench_row(args, gpu)


if __name__ == "__main__":
    main()
