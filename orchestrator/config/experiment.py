"""``Experiment``: one training run's config as plain nested data, with what the
orchestrator must know about it (its parameter types, its trainer, its seed and length keys).

Everything from rounds to promotion works on this one shape, whether the config is the
built-in experiment (``train/config.py``, trained by ``fit``) or the user's own keys
(``hidden_units``, ``optim.lr``): a round names paths of the tree, a trial sets them, the
store keeps the tree, the incumbent is a tree. Only at the trainer's door does it become
what the trainer takes (``trainers/``): the built-in ``ExperimentConfig`` for the
built-in experiment, the user's own keys as a ``DictConfig`` otherwise.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.config.params import BUILTIN_SCHEMA, ParamSchema
from orchestrator.config.trainer_settings import (
    BUILTIN_TRAINER,
    FunctionSettings,
    TrainerSettings,
)
from orchestrator.exceptions import ConfigError
from orchestrator.train.config import (
    ExperimentConfig,
    experiment_from_dict,
    experiment_to_dict,
    validate_experiment,
)

DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class Experiment:
    """A run's config tree and its metadata (frozen: ``with_values`` returns a new one)."""

    tree: Mapping[str, Any]  # nested plain data: the user's keys, or the built-in sections
    schema: ParamSchema
    # What trains it (function, Hydra app, command), as the ``trainer`` section set it.
    trainer_settings: TrainerSettings = FunctionSettings()
    seed_key: str | None = "train.seed"  # where a promotion rerun puts its seed
    length_key: str | None = "train.steps"  # the training length the step checks adjust

    @property
    def trainer(self) -> str:
        """The trainer's identity (part of the config hash and the provenance)."""
        return self.trainer_settings.identity()

    @property
    def builtin(self) -> bool:
        return self.schema.builtin

    @property
    def metric(self) -> str:
        return str(self.tree["objective"]["metric"])

    @property
    def direction(self) -> str:
        return str(self.tree["objective"]["direction"])

    def get(self, path: str) -> Any:
        node: Any = self.tree
        for part in path.split("."):
            node = node[part]
        return node

    def length(self) -> int | None:
        """The training length under the length key (``epochs: 20``), when it is a finite
        number; None without a length key or value (what the step checks and pruner rungs
        then do without)."""
        if self.length_key is None:
            return None
        try:
            value = self.get(self.length_key)
        except (KeyError, TypeError):
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return None
        number = float(value)
        return int(number) if math.isfinite(number) else None

    def with_values(self, values: Mapping[str, Any]) -> Experiment:
        """A copy with each path set (values must be type-checked against ``schema``)."""
        tree = copy.deepcopy(dict(self.tree))
        for path, value in values.items():
            *parents, leaf = path.split(".")
            node = tree
            for part in parents:
                node = node[part]
            node[leaf] = value
        return dataclasses.replace(self, tree=tree)

    def with_tree(self, tree: Mapping[str, Any]) -> Experiment:
        """The same experiment with another tree (a stored start config, an incumbent)."""
        return dataclasses.replace(self, tree=copy.deepcopy(dict(tree)))

    def validate(self) -> None:
        """The built-in schema's rules; for own keys, the objective's direction."""
        if self.builtin:
            validate_experiment(self.as_builtin())
            return
        if self.direction not in DIRECTIONS:
            raise ConfigError(
                "objective.direction", f"must be minimize or maximize; got {self.direction!r}"
            )
        if not self.metric:
            raise ConfigError("objective.metric", "name the metric your trainer reports")

    def as_builtin(self) -> ExperimentConfig:
        """The built-in experiment's dataclasses (what ``fit`` takes)."""
        assert self.builtin, "an own config has no built-in dataclass form"
        return experiment_from_dict(dict(self.tree))

    def header(self) -> str:
        """One line naming the trainer and the keys it is tuned through, for round headers."""
        keys = [f"objective {self.metric} ({self.direction})"]
        if self.seed_key:
            keys.append(f"seed key {self.seed_key}")
        if self.length_key:
            keys.append(f"length key {self.length_key}")
        return f"trainer {self.trainer}: " + ", ".join(keys)


def builtin_experiment(
    config: ExperimentConfig | None = None, trainer: str = BUILTIN_TRAINER
) -> Experiment:
    """The built-in experiment (defaults when ``config`` is None) as an ``Experiment``,
    trained by the function at the dotted path ``trainer``."""
    tree = experiment_to_dict(config if config is not None else ExperimentConfig())
    return Experiment(tree, BUILTIN_SCHEMA, FunctionSettings(trainer))
