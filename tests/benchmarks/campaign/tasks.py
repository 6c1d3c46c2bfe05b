"""The campaign benchmark's tasks: which recorded benchmark, and round 1 as a user writes it.

Round 1 asks one structural question (scientific) and tunes every other knob as nuisance
over the benchmark's whole range; the budget is the tool's defaults (trials per study,
sampler), promotion with 5 seeds (10, the tool's default, on the digits table recorded
here). Everything after round 1 is what the tool drafts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

HPOBENCH_NUISANCE: dict[str, Any] = {
    "optim.lr": {"low": 1.0e-5, "high": 1.0, "log": True},
    "optim.alpha": {"low": 1.0e-8, "high": 1.0, "log": True},
    "batch_size": {"low": 4, "high": 256, "log": True},
    "model.width": {"low": 16, "high": 1024, "log": True},
}
HPOLIB_NUISANCE: dict[str, Any] = {
    "model.activation_2": {"choices": ["relu", "tanh"]},
    "model.units_1": {"low": 16, "high": 512, "log": True},
    "model.units_2": {"low": 16, "high": 512, "log": True},
    "model.dropout_1": {"low": 0.0, "high": 0.6},
    "model.dropout_2": {"low": 0.0, "high": 0.6},
    "optim.lr": {"low": 5.0e-4, "high": 0.1, "log": True},
    "optim.schedule": {"choices": ["cosine", "const"]},
    "batch_size": {"low": 8, "high": 64, "log": True},
}


DIGITS_NUISANCE: dict[str, Any] = {  # the recorded grid's whole range
    "optim.lr": {"low": 1.0e-4, "high": 0.1, "log": True},
    "optim.alpha": {"low": 1.0e-6, "high": 1.0, "log": True},
    "batch_size": {"low": 16, "high": 256, "log": True},
    "model.width": {"low": 16, "high": 256, "log": True},
}
FIXED_FIVE = {"seeds": 5, "sequential": False}  # promotion as it was before issue 23


@dataclass(frozen=True)
class Task:
    suite: str  # hpobench | hpolib | digits: the config file conf/<suite>.yaml
    name: str  # the data set
    scientific: dict[str, list[Any]]
    nuisance: dict[str, Any]
    promotion: dict[str, Any] = field(default_factory=lambda: {"seeds": 5})

    @property
    def label(self) -> str:
        return f"{self.suite}/{self.name}"

    def round_1(self, seed: int) -> dict[str, Any]:
        """Round 1 as a user writes it (the tool's default budget)."""
        (param,) = self.scientific
        return {
            "name": "r1",
            "goal": f"Which {param} gives the best model?",
            "start_from": "incumbent",
            "scientific": self.scientific,
            "nuisance": self.nuisance,
            "budget": {"seed": seed},
            "promotion": dict(self.promotion),
        }

    def space(self) -> dict[str, Any]:
        """Every tuned key with its spec: what a plain Optuna run searches."""
        ((param, values),) = self.scientific.items()
        return {param: {"choices": list(values)}, **self.nuisance}


def _hpobench(name: str) -> Task:
    return Task("hpobench", name, {"model.depth": [1, 2, 3]}, HPOBENCH_NUISANCE)


TASKS: tuple[Task, ...] = (
    Task(
        "hpolib", "slice_localization", {"model.activation_1": ["relu", "tanh"]}, HPOLIB_NUISANCE
    ),
    *(_hpobench(n) for n in ("australian", "blood_transfusion", "car", "credit_g", "phoneme")),
)
# Real training recorded here with 12 seeds a configuration, so promotion's default cap of
# 10 paired seeds reads 10 distinct results (``make_digits_table.py``); not in TASKS, whose
# tables hold 4-5 seeds: ``--tasks digits/digits``.
DIGITS = Task("digits", "digits", {"model.depth": [1, 2, 3]}, DIGITS_NUISANCE, {"seeds": 10})


def with_fixed_five(task: Task) -> Task:
    """The task with promotion as it was: five paired seeds, read once."""
    return replace(task, promotion=dict(FIXED_FIVE))


HELD_OUT: tuple[Task, ...] = (
    Task("hpolib", "protein_structure", {"model.activation_1": ["relu", "tanh"]}, HPOLIB_NUISANCE),
    *(_hpobench(n) for n in ("kc1", "segment", "vehicle")),
)
