"""What a worker loads once for every trial of the built-in experiment: its data sets and
the training library's ``TrainCache`` (compiled graphs, device buffers).

Made only when a function trainer asks for them (``data=``, ``cache=``), so a trainer that
does not use torch never imports it; the worker's ``TrainerCache`` holds one of these for
all its trainers, so a promotion rerun reuses the data set the round's trials loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestrator.train.config import DataConfig

if TYPE_CHECKING:
    from orchestrator.train.cache import TrainCache
    from orchestrator.train.data import Split

# Augmentation settings change the batches, not the stored tensors.
_NOT_DATA = ("crop_padding", "hflip")


@dataclass
class WorkerResources:
    """Loaded data sets by their settings, and one ``TrainCache``."""

    splits: dict[str, Split] = field(default_factory=dict)
    train_cache_: TrainCache | None = None

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
        if self.train_cache_ is None:
            from orchestrator.train.cache import TrainCache

            self.train_cache_ = TrainCache()
        return self.train_cache_
