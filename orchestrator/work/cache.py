"""``WorkerCache``: everything a worker keeps between trials, in one object passed explicitly.

A worker runs many trials; paying per trial for what does not change between them would
dominate short trials (resolving the trainer, generating or reading the data set, moving
it to the device, compiling the model). The worker loop and promotion's reruns create one
``WorkerCache`` and hand it to every trial; nothing else in a worker outlives a trial.
The data set and the training library's ``TrainCache`` are only made when the trainer
takes them (``data=``, ``cache=``), so a trainer that does not use torch never imports it.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.config.trainer import Trainer, resolve_trainer
from orchestrator.train.config import DataConfig, ExperimentConfig

if TYPE_CHECKING:
    from orchestrator.train.cache import TrainCache
    from orchestrator.train.data import Split

# Augmentation settings change the batches, not the stored tensors.
_NOT_DATA = ("crop_padding", "hflip")


@dataclass
class WorkerCache:
    """Resolved trainers, loaded data sets and the training library's cache, per worker."""

    trainers: dict[str, Trainer] = field(default_factory=dict)
    takes: dict[str, frozenset[str]] = field(default_factory=dict)  # target -> its parameters
    splits: dict[str, Split] = field(default_factory=dict)
    train: TrainCache | None = None

    def trainer(self, target: str) -> Trainer:
        """The trainer named ``target``, imported once."""
        if target not in self.trainers:
            trainer = resolve_trainer(target)
            self.trainers[target] = trainer
            self.takes[target] = frozenset(inspect.signature(trainer).parameters)
        return self.trainers[target]

    def split(self, data: DataConfig) -> Split:
        """The data set ``data`` describes, loaded once."""
        key = json.dumps(
            {k: v for k, v in vars(data).items() if k not in _NOT_DATA}, sort_keys=True
        )
        if key not in self.splits:
            # torch is imported here: only for trainers that take data
            from orchestrator.train.data import load_split

            self.splits[key] = load_split(data)
        return self.splits[key]

    def train_cache(self) -> TrainCache:
        if self.train is None:
            from orchestrator.train.cache import TrainCache

            self.train = TrainCache()
        return self.train

    def trainer_kwargs(self, target: str, config: ExperimentConfig) -> dict[str, Any]:
        """What this cache offers the trainer ``target``: ``data`` and ``cache`` when it
        takes them (its signature is read once, when it is resolved)."""
        self.trainer(target)
        kwargs: dict[str, Any] = {}
        if "data" in self.takes[target]:
            kwargs["data"] = self.split(config.data)
        if "cache" in self.takes[target]:
            kwargs["cache"] = self.train_cache()
        return kwargs
