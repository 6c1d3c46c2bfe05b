"""``WorkerCache``: everything a worker keeps between trials, in one object passed explicitly.

A worker runs many trials; paying per trial for what does not change between them would
dominate short trials (resolving the trainer, generating or reading the data set, moving
it to the device, compiling the model). The worker loop and promotion's reruns create one
``WorkerCache`` and hand it to every trial; nothing else in a worker outlives a trial.
The data set and the training library's ``TrainCache`` are only made when a trainer of the
built-in experiment takes them (``data=``, ``cache=``; ``trainer_call.py`` lists what a
trainer may ask for), so a trainer that does not use torch never imports it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.config.experiment import Experiment
from orchestrator.config.launch import Launch
from orchestrator.config.trainer import Trainer
from orchestrator.train.config import DataConfig
from orchestrator.train.result import TrainResult
from orchestrator.work.child_trainer import check_command, command_argv, train_in_child
from orchestrator.work.hydra_app import HydraAppTrainer
from orchestrator.work.trainer_call import (
    Reports,
    TrialPlace,
    build_result,
    config_for,
    reporting_to,
    trainer_for,
)

if TYPE_CHECKING:
    from orchestrator.train.cache import TrainCache
    from orchestrator.train.data import Split

# Augmentation settings change the batches, not the stored tensors.
_NOT_DATA = ("crop_padding", "hflip")


@dataclass
class WorkerCache:
    """Resolved trainers, loaded data sets and the training library's cache, per worker."""

    # (target, built-in experiment?) -> the trainer and the documented names it asks for
    trainers: dict[tuple[str, bool], tuple[Trainer, frozenset[str]]] = field(default_factory=dict)
    apps: dict[Launch, HydraAppTrainer] = field(default_factory=dict)  # composed once each
    splits: dict[str, Split] = field(default_factory=dict)
    train_cache_: TrainCache | None = None

    def ready(self, experiment: Experiment) -> None:
        """The trainer checked before any trial: a function imported and its signature
        fitting, a Hydra app's config composed, a command's program found."""
        launch = experiment.how
        if launch.kind == "command":
            check_command(launch)
        elif launch.kind == "hydra_app":
            self.app(launch)
        else:
            self.trainer(experiment)

    def app(self, launch: Launch) -> HydraAppTrainer:
        if launch not in self.apps:
            self.apps[launch] = HydraAppTrainer(launch)
        return self.apps[launch]

    def trainer(self, experiment: Experiment) -> tuple[Trainer, frozenset[str]]:
        """The experiment's trainer, imported and its signature checked once."""
        key = (experiment.trainer, experiment.builtin)
        if key not in self.trainers:
            self.trainers[key] = trainer_for(experiment.trainer, experiment)
        return self.trainers[key]

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

    def train(
        self,
        experiment: Experiment,
        reports: Reports,
        place: TrialPlace | None = None,
        **extra: Any,
    ) -> TrainResult:
        """Train one run with the experiment's trainer; its answer as a result. ``place``:
        the trial's own folder (a child's or an app's files; a fresh temporary one if None)."""
        launch = experiment.how
        if launch.kind != "function":
            if place is None:
                place = TrialPlace("run", Path(tempfile.mkdtemp(prefix="orchestrator-trial-")))
            if launch.kind == "command":
                return train_in_child(command_argv(experiment), experiment, reports, place)
            return self.app(launch).train(experiment, reports, place)
        trainer, asks = self.trainer(experiment)
        config = config_for(experiment)
        offered: dict[str, Any] = {
            "report": reports.report,
            "on_eval": reports.on_eval,
            "progress": False,
            **extra,
        }
        kwargs = {name: value for name, value in offered.items() if name in asks}
        if "data" in asks:
            kwargs["data"] = self.split(config.data)
        if "cache" in asks:
            kwargs["cache"] = self.train_cache()
        with reporting_to(reports) as finals:  # trial_report works in a function trainer too
            returned = trainer(config, **kwargs)
        return build_result(returned, reports, experiment, finals)
