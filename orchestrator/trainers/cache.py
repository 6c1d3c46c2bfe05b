"""``TrainerCache``: a worker's trainers and loaded resources, built once, used per trial.

A worker runs many trials; paying per trial for what does not change between them would
dominate short trials (importing the trainer, composing an app's config, generating or
reading the data set, compiling the model). The worker loop, promotion's reruns and
``stage=train`` each hold one ``TrainerCache`` and train through it; it only caches, each
trainer kind does its own work (``resolve.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.config.experiment import Experiment
from orchestrator.config.trainer_settings import TrainerSettings
from orchestrator.train.result import TrainResult
from orchestrator.trainers.protocol import Trainer, TrainingJob, TrialPlace
from orchestrator.trainers.reports import Reports
from orchestrator.trainers.resolve import trainer_for
from orchestrator.trainers.resources import WorkerResources


@dataclass
class TrainerCache:
    """Built trainers by their settings (and whether the experiment is the built-in one),
    and the resources they share."""

    trainers: dict[tuple[TrainerSettings, bool], Trainer] = field(default_factory=dict)
    resources: WorkerResources = field(default_factory=WorkerResources)

    def trainer(self, experiment: Experiment) -> Trainer:
        """The experiment's trainer, built once."""
        key = (experiment.trainer_settings, experiment.builtin)
        if key not in self.trainers:
            self.trainers[key] = trainer_for(
                experiment.trainer_settings, builtin=experiment.builtin, resources=self.resources
            )
        return self.trainers[key]

    def ready(self, experiment: Experiment) -> None:
        """The trainer built and checked before any trial (one ConfigError naming the key)."""
        self.trainer(experiment).ready()

    def train(
        self,
        experiment: Experiment,
        reports: Reports,
        place: TrialPlace | None = None,
        *,
        progress: bool = False,
    ) -> TrainResult:
        """Train one run with the experiment's trainer. ``place``: the trial's own folder (a
        child's or an app's files; a fresh temporary one, made when needed, if None)."""
        job = TrainingJob(experiment, reports, place, progress)
        return self.trainer(experiment).train(job)
