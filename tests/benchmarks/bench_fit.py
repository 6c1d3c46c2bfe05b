"""Training throughput of ``fit`` against a plain PyTorch loop with a DataLoader.

Both sides train the same model (same config, same seed) on the same tensors for the
same number of steps and batch size, with the same augmentation; the reference is the
loop most people write: a ``Dataset`` that crops and flips one example at a time, a
shuffling ``DataLoader`` (0 and 2 workers, pinned memory when CUDA is present), SGD.
Runs are interleaved and repeated, and medians are compared, so machine noise hits both
sides alike. Prints examples/s and the ratio fit / DataLoader (> 1: fit is faster).

    make bench                      # or: uv run python -m tests.benchmarks.bench_fit
    make bench ARGS="--steps 100 --repeats 2"
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from orchestrator.train.cache import TrainCache
from orchestrator.train.config import ExperimentConfig
from orchestrator.train.data import Split, load_split
from orchestrator.train.loop import fit, resolve_device
from orchestrator.train.models import build_model
from orchestrator.train.optim import build_optimizer


class PerExampleAugmented(Dataset):
    """The usual Dataset: one example per ``__getitem__``, cropped and flipped on its own."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, padding: int, hflip: bool) -> None:
        self.x, self.y, self.padding, self.hflip = x, y, padding, hflip

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.x[i]
        if self.padding:
            p = self.padding
            padded = nn.functional.pad(img, (p, p, p, p))
            dy, dx = torch.randint(0, 2 * p + 1, (2,)).tolist()
            img = padded[:, dy : dy + img.shape[1], dx : dx + img.shape[2]]
        if self.hflip and torch.rand(()) < 0.5:
            img = img.flip(-1)
        return img, self.y[i]


def dataloader_loop(cfg: ExperimentConfig, split: Split, workers: int) -> float:
    """Train like a plain script; return training examples per second."""
    device = resolve_device(cfg.train.device)
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model, split.input_shape, split.num_classes).to(device)
    opt = build_optimizer(cfg.optimizer, model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    data = PerExampleAugmented(split.x_train, split.y_train, cfg.data.crop_padding, cfg.data.hflip)
    loader = DataLoader(
        data,
        batch_size=cfg.train.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,
    )
    model.train()
    steps, start = 0, time.perf_counter()
    while steps < cfg.train.steps:
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
            if steps == cfg.train.steps:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * cfg.train.batch_size / (time.perf_counter() - start)


def fit_throughput(cfg: ExperimentConfig, split: Split, cache: TrainCache) -> float:
    """fit's own measure: training examples per second of optimizer-step time."""
    return fit(cfg, data=split, cache=cache).examples_per_s


def measure(cfg: ExperimentConfig, split: Split, repeats: int) -> dict[str, float]:
    """Median examples/s of each contender, interleaved so drift affects all alike."""
    cache = TrainCache()  # what a worker keeps between trials
    contenders: dict[str, Callable[[], float]] = {
        "fit (device-resident)": lambda: fit_throughput(cfg, split, cache),
        "DataLoader, 0 workers": lambda: dataloader_loop(cfg, split, 0),
        "DataLoader, 2 workers": lambda: dataloader_loop(cfg, split, 2),
    }
    for run in contenders.values():  # warm-up: allocator, oneDNN/cuDNN kernels
        run()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            samples[name].append(run())
    return {name: statistics.median(v) for name, v in samples.items()}


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    cfg = ExperimentConfig()
    cfg.train.steps, cfg.train.eval_every, cfg.train.device = args.steps, args.steps, args.device
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else cpu_name()
    print(
        f"device: {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}"
    )
    print(
        f"model: cnn depth {cfg.model.depth} width {cfg.model.width}, batch "
        f"{cfg.train.batch_size}, {args.steps} steps, median of {args.repeats} interleaved runs"
    )
    split = load_split(cfg.data)
    print(f"{'augmentation':<14}{'contender':<24}{'examples/s':>12}{'fit / this':>12}")
    for label, padding, hflip in (("none", 0, False), ("crop+flip", 4, True)):
        cfg.data.crop_padding, cfg.data.hflip = padding, hflip
        rates = measure(cfg, split, args.repeats)
        ours = rates["fit (device-resident)"]
        for contender, rate in rates.items():
            print(f"{label:<14}{contender:<24}{rate:>12.0f}{ours / rate:>12.2f}")


if __name__ == "__main__":
    main()
