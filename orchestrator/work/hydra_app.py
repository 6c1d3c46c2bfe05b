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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.utils import env_override
from omegaconf import OmegaConf

from orchestrator.config.app import (
    app_functions,
    app_global_hydra,
    compose_app,
    global_hydra_as,
    hydra_config,
    hydra_state,
    set_trial_overrides,
    task_config,
    working_dir_for,
)
from orchestrator.config.experiment import Experiment
from orchestrator.config.launch import Launch, changed_values, hydra_override
from orchestrator.train.result import TrainResult
from orchestrator.work.child_trainer import app_child_argv, train_in_child
from orchestrator.work.trainer_call import Reports, TrialPlace, build_result, reporting_to


class HydraAppTrainer:
    """One worker's view of a Hydra app: its main, its composed config, its defaults."""

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self.main, _, _ = app_functions(launch.target)
        self.composed = compose_app(launch)
        self.state = hydra_state(self.composed)  # what HydraConfig holds during a trial
        self.global_hydra = app_global_hydra(launch)  # Hydra's global state during a trial
        self.task = task_config(self.composed)  # each trial changes a copy
        defaults = OmegaConf.to_container(self.task, resolve=False)
        assert isinstance(defaults, dict)
        self.defaults: Mapping[str, Any] = {str(k): v for k, v in defaults.items()}

    def changed(self, experiment: Experiment) -> dict[str, Any]:
        """The trial's values that differ from the app's own defaults."""
        return changed_values(experiment.tree, self.defaults)

    def train(self, experiment: Experiment, reports: Reports, place: TrialPlace) -> TrainResult:
        changed = self.changed(experiment)
        overrides = [hydra_override(path, value) for path, value in changed.items()]
        if self.launch.subprocess:
            argv = app_child_argv(self.launch, overrides, place)
            return train_in_child(argv, experiment, reports, place)
        place.dir.mkdir(parents=True, exist_ok=True)
        task = copy.deepcopy(self.task)
        for path, value in changed.items():
            OmegaConf.update(task, path, value, merge=False)
        set_trial_overrides(self.state, [*self.launch.overrides, *overrides])
        workdir = working_dir_for(self.composed, place.dir, self.launch.version_base)
        with (
            global_hydra_as(self.global_hydra),
            hydra_config(self.state, place.dir),
            env_override(dict(self.composed.hydra.job.env_set)),
            _working_dir(workdir),
            reporting_to(reports) as finals,
        ):
            returned = self.main(task)
        return build_result(returned, reports, experiment, finals)


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
