"""What every kind of trainer is to the rest of the orchestrator: ``ready`` before any
trial, ``train`` one experiment into a ``TrainResult``, reporting through ``Reports``.

The worker loop, promotion's seed reruns and ``stage=train`` hold a ``Trainer`` and never
ask which kind it is; each kind (``function.py``, ``command.py``, ``hydra_app/``) is one
class built from its own settings (``config/trainer_settings.py``), picked in one place
(``resolve.py``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from orchestrator.config.experiment import Experiment
    from orchestrator.train.result import TrainResult
    from orchestrator.trainers.reports import Reports


@dataclass(frozen=True)
class TrialPlace:
    """Where one trial's own files go (a child's stdout, stderr and metrics; a Hydra app's
    output dir), and the name it is known by (``ORCHESTRATOR_TRIAL``)."""

    label: str
    dir: Path


@dataclass(frozen=True)
class TrainingJob:
    """One run to train: the experiment (its values set), the reports it goes to, the
    trial's own folder (None: one is made where a trainer writes files) and whether to
    show a progress bar (where the trainer can show one)."""

    experiment: Experiment
    reports: Reports
    place: TrialPlace | None = None
    progress: bool = False

    def folder(self) -> TrialPlace:
        """The trial's folder, or a fresh temporary one for a trainer that writes files (a
        child's output, an app's output dir) when its caller gave none."""
        if self.place is not None:
            return self.place
        return TrialPlace("run", Path(tempfile.mkdtemp(prefix="orchestrator-trial-")))


class Trainer(Protocol):
    """One kind of trainer, built once per worker and called once per trial."""

    def ready(self) -> None:
        """Check what can be checked before any trial runs (a function imported and its
        signature fitting, an app's config composed, a command's program found); one
        ConfigError naming the key otherwise."""

    def train(self, job: TrainingJob) -> TrainResult:
        """Train ``job.experiment`` once; what it reported is in ``job.reports``, its answer
        the result."""
