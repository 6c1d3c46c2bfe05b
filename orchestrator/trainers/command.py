"""Any command as the trainer (``python train.py``): run once per trial as a child
process, given the trial's values as arguments in its style (Hydra overrides or argparse
flags), its reports read while it runs (``child/``)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

from orchestrator.config.metric_settings import TRIAL_DIR
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
        self.command = (this_python(settings.command[0]), *settings.command[1:])

    def ready(self) -> None:
        """The command's program exists and is executable; one ConfigError before any trial."""
        program = self.command[0]
        found = shutil.which(program) if os.sep not in program else program
        if found is None or not (os.path.isfile(found) and os.access(found, os.X_OK)):
            raise ConfigError(
                "trainer.command",
                f"command not found: {program!r} (not on PATH"
                + ("" if os.sep not in program else ", or not an executable file")
                + "); give the program as you would run it here, e.g. 'python train.py'",
            )

    def argv(self, experiment: Experiment, trial_dir: str = TRIAL_DIR) -> list[str]:
        """This trial's argv: the command (``{trial_dir}`` in it: the trial's own folder),
        then every key's value."""
        command = [part.replace(TRIAL_DIR, trial_dir) for part in self.command]
        return [*command, *child_arguments(self.settings.args, experiment.tree)]

    def train(self, job: TrainingJob) -> TrainResult:
        place = job.folder()
        argv = self.argv(job.experiment, str(place.dir))
        return train_in_child(
            argv, job.experiment, job.reports, place, self.limits, self.settings.metrics
        )


PYTHON_NAMES = ("python", "python3")  # the tool's own interpreter, not PATH's


def this_python(program: str) -> str:
    """``python`` (or ``python3``) as the interpreter the orchestrator runs in, so a
    command runs in the environment the tool was installed into even when that environment
    is not activated (PATH's ``python`` would lack its packages); any other name
    (``python3.12``, a path) is run as given."""
    return sys.executable if program in PYTHON_NAMES and sys.executable else program
