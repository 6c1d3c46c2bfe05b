"""A Hydra application trained in the worker: its config composed once, each trial's
values applied to a copy, its decorated main called with it (as Hydra's ``main`` allows:
``decorated_main(cfg)`` runs the task function on ``cfg``).

Per trial, ``HydraConfig`` is set as a Hydra run sets it, with the trial's own folder as
``hydra.runtime.output_dir`` (so ``${hydra:runtime.output_dir}`` in the app's config
points there) and the trial's overrides in ``hydra.overrides.task`` and
``hydra.job.override_dirname``; Hydra's global state is the app's (its own search path for
a ``compose`` inside it); ``hydra.job.env_set`` is applied; and the app runs in that folder
when Hydra would change there (``hydra.job.chdir``). What only a Hydra run of its own does
(its logging config, its callbacks) needs ``trainer.subprocess=true``.
Only the keys whose value differs from the app's own composed default are set, so the
app's interpolations (``scheduler.max_lr: ${optimizer.lr}``) follow a tuned value. Its
return value (a number, or a dict holding the objective's metric) is the answer; what it
reports through ``trial_report`` becomes the curves.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.utils import env_override
from omegaconf import OmegaConf

from orchestrator.config.experiment import Experiment
from orchestrator.config.trainer_settings import HydraAppSettings
from orchestrator.train.result import TrainResult
from orchestrator.trainers.answer import build_result
from orchestrator.trainers.child.arguments import changed_values, hydra_override
from orchestrator.trainers.child.run import ChildLimits, train_in_child
from orchestrator.trainers.hydra_app.compose import (
    app_functions,
    app_global_hydra,
    app_job_name,
    compose_app,
    located,
    one_run_overrides,
    task_config,
)
from orchestrator.trainers.hydra_app.run_state import (
    global_hydra_as,
    hydra_config,
    hydra_state,
    set_trial_overrides,
    working_dir_for,
)
from orchestrator.trainers.protocol import TrainingJob, TrialPlace
from orchestrator.trainers.reports import reporting_to


class HydraAppTrainer:
    """One worker's view of a Hydra app: its main, its composed config, its defaults."""

    def __init__(self, settings: HydraAppSettings) -> None:
        self.settings = located(settings)  # as the experiment has it already; idempotent
        self.main, _, _ = app_functions(settings.target)
        self.composed = compose_app(self.settings)
        self.state = hydra_state(self.composed)  # what HydraConfig holds during a trial
        self.global_hydra = app_global_hydra(self.settings)  # Hydra's global state then
        self.task = task_config(self.composed)  # each trial changes a copy
        defaults = OmegaConf.to_container(self.task, resolve=False)
        assert isinstance(defaults, dict)
        self.defaults: Mapping[str, Any] = {str(k): v for k, v in defaults.items()}

    def ready(self) -> None:
        """Nothing left to check: the app's config composed when this was built."""

    def changed(self, experiment: Experiment) -> dict[str, Any]:
        """The trial's values that differ from the app's own defaults."""
        return changed_values(experiment.tree, self.defaults)

    def train(self, job: TrainingJob) -> TrainResult:
        experiment, reports, place = job.experiment, job.reports, job.folder()
        changed = self.changed(experiment)
        overrides = [hydra_override(path, value) for path, value in changed.items()]
        if self.settings.subprocess:
            limits = ChildLimits(self.settings.timeout, self.settings.grace)
            argv = self.child_argv(overrides, place)
            return train_in_child(argv, experiment, reports, place, limits)
        place.dir.mkdir(parents=True, exist_ok=True)
        task = copy.deepcopy(self.task)
        for path, value in changed.items():
            OmegaConf.update(task, path, value, merge=False)
        set_trial_overrides(self.state, [*self.settings.overrides, *overrides])
        workdir = working_dir_for(self.composed, place.dir, self.settings.version_base)
        with (
            global_hydra_as(self.global_hydra),
            hydra_config(self.state, place.dir),
            env_override(dict(self.composed.hydra.job.env_set)),
            _working_dir(workdir),
            reporting_to(reports) as finals,
        ):
            returned = self.main(task)
        return build_result(returned, reports, experiment, finals)

    def child_argv(self, overrides: Sequence[str], place: TrialPlace) -> list[str]:
        """The app in a process of its own: Hydra runs it there as from its command line
        (``child_main.py`` passes its return value back)."""
        app = self.settings
        assert app.config_dir and app.config_name and app.version_base
        return [
            sys.executable,
            "-m",
            "orchestrator.trainers.hydra_app.child_main",
            app.target,
            app.config_dir,
            app.config_name,
            app.version_base,
            *one_run_overrides([*app.overrides, *overrides]),
            hydra_override("hydra.run.dir", str(place.dir)),
            hydra_override("hydra.job.name", app_job_name(app)),
        ]


@contextmanager
def _working_dir(path: str | Path) -> Iterator[None]:
    previous = os.getcwd()
    if str(path) == previous:
        yield
        return
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)
