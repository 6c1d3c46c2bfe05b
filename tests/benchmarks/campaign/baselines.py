"""Plain Optuna at the same number of training runs: what a user gets without the tool.

One study over every knob the campaign tunes (the scientific one as a categorical), each
trial one training run at the user's seed (0, as the campaign's search trials), the
answer the best value observed.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna

from tests.benchmarks.campaign.project.recorded_mlp import recorded
from tests.benchmarks.campaign.tasks import Task
from tests.benchmarks.campaign.truth import MAXIMIZE

SAMPLERS = ("tpe", "random", "qmc")


def _sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optuna.samplers.QMCSampler(seed=seed, scramble=True)


def _suggest(trial: optuna.Trial, path: str, spec: dict[str, Any]) -> Any:
    if "choices" in spec:
        return trial.suggest_categorical(path, spec["choices"])
    if isinstance(spec["low"], int) and isinstance(spec["high"], int):
        return trial.suggest_int(path, spec["low"], spec["high"], log=spec.get("log", False))
    return trial.suggest_float(path, spec["low"], spec["high"], log=spec.get("log", False))


def plain_optuna(task: Task, sampler: str, seed: int, runs: int) -> tuple[dict[str, Any], float]:
    """(the best observed configuration, its observed value) after ``runs`` trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = task.space()

    def objective(trial: optuna.Trial) -> float:
        values = {path: _suggest(trial, path, spec) for path, spec in space.items()}
        return recorded(task.suite, task.name, values)[0]

    study = optuna.create_study(
        direction="maximize" if MAXIMIZE[task.suite] else "minimize",
        sampler=_sampler(sampler, seed),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=runs)
    return dict(study.best_params), float(study.best_value)
