"""Any command as the trainer (``python train.py``): run once per trial as a child
process, given the trial's values as arguments in its style (Hydra overrides or argparse
flags), its reports read while it runs (``child/``)."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from orchestrator.config.trainer_settings import CommandSettings
from orchestrator.exceptions import ConfigError
from orchestrator.train.result import TrainResult
from orchestrator.trainers.child.arguments import child_arguments
from orchestrator.trainers.child.run import ChildLimits, train_in_child
from orchestrator.trainers.protocol import TrainingJob

if TYPE_CHECKING:
    from orchestrator.config.experiment import Experiment


class CommandTrainer:
    """The command line of ``settings``, one child process per trial."""

    def __init__(self, settings: CommandSettings) -> None:
        self.settings = settings
        self.limits = ChildLimits(settings.timeout, settings.grace)

    def ready(self) -> None:
        """The command's program exists and is executable; one ConfigError before any trial."""
        program = self.settings.command[0]
        found = shutil.which(program) if os.sep not in program else program
        if found is None or not (os.path.isfile(found) and os.access(found, os.X_OK)):
            raise ConfigError(
                "trainer.command",
                f"command not found: {program!r} (not on PATH"
                + ("" if os.sep not in program else ", or not an executable file")
                + "); give the program as you would run it here, e.g. 'python train.py'",
            )

    def argv(self, experiment: Experiment) -> list[str]:
        """This trial's argv: the command, then every key's value."""
        return [*self.settings.command, *child_arguments(self.settings.args, experiment.tree)]

    def train(self, job: TrainingJob) -> TrainResult:
        argv = self.argv(job.experiment)
        return train_in_child(argv, job.experiment, job.reports, job.folder(), self.limits)
