"""A function as the trainer, called in the worker: ``fn(config, report=...)``.

Its first parameter takes the trial's config: the built-in ``ExperimentConfig`` for the
built-in experiment, the user's own keys as an OmegaConf ``DictConfig`` otherwise
(attribute and item access, ``OmegaConf.to_container`` for a dict). Besides the config it
receives only what it asks for, by these documented names:

- ``report``: ``report(step, **metrics) -> bool``, the hook. Each call records the metrics
  at ``step`` (curves, and the objective metric as Optuna's intermediate value) and returns
  whether to stop now (the hook pruning uses).
- ``on_eval``: ``on_eval(step, metrics) -> bool``, the built-in ``fit``'s callback.
- ``data``, ``cache``: the built-in experiment's loaded data set and the training library's
  cache (built-in experiment only: an own config loads its own data).
- ``progress``: whether to show a progress bar (``stage=train``).

A parameter of any other name without a default is refused when the trainer is resolved,
so nothing is passed by accident. The function is imported with plain importlib rather
than ``hydra.utils``, so a worker, a promotion rerun or a test can resolve it from a stored
config without Hydra being initialised.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from omegaconf import OmegaConf

from orchestrator.child import trial_report
from orchestrator.config.trainer_settings import FunctionSettings
from orchestrator.exceptions import ConfigError
from orchestrator.train.result import TrainResult
from orchestrator.trainers.answer import build_result
from orchestrator.trainers.protocol import TrainingJob
from orchestrator.trainers.reports import reporting_to
from orchestrator.trainers.resources import WorkerResources

if TYPE_CHECKING:
    from orchestrator.config.experiment import Experiment

# The user's code imports the reporting helper as ``trial_report``; in the orchestrator's
# process that name is this one module, set before any user module is imported here, so
# its reports reach the running trial whatever the install (editable or a wheel).
sys.modules.setdefault("trial_report", trial_report)

TrainFunction = Callable[..., Any]
HOOKS = ("report", "on_eval")
BUILTIN_ONLY = ("data", "cache")


class FunctionTrainer:
    """The function at ``settings.target``, imported and its signature checked once."""

    def __init__(
        self, settings: FunctionSettings, *, builtin: bool, resources: WorkerResources
    ) -> None:
        self.settings = settings
        self.function = resolve_function(settings.target)
        self.asks = checked_asks(settings.target, self.function, builtin=builtin)
        self.resources = resources

    def ready(self) -> None:
        """Nothing left to check: importing and the signature were checked when built."""

    def train(self, job: TrainingJob) -> TrainResult:
        experiment, reports = job.experiment, job.reports
        config = config_for(experiment)
        offered: dict[str, Any] = {
            "report": reports.report,
            "on_eval": reports.on_eval,
            "progress": job.progress,
        }
        kwargs = {name: value for name, value in offered.items() if name in self.asks}
        if "data" in self.asks:
            kwargs["data"] = self.resources.split(config.data)
        if "cache" in self.asks:
            kwargs["cache"] = self.resources.train_cache()
        with reporting_to(reports) as finals:  # trial_report works in a function trainer too
            returned = self.function(config, **kwargs)
        return build_result(returned, reports, experiment, finals)


def config_for(experiment: Experiment) -> Any:
    """The trial's config as the function takes it."""
    if experiment.builtin:
        return experiment.as_builtin()
    return OmegaConf.create(dict(experiment.tree))


def checked_asks(target: str, trainer: TrainFunction, *, builtin: bool) -> frozenset[str]:
    """The documented names ``trainer`` takes; a ConfigError for any it needs but cannot get."""
    offered = HOOKS + (BUILTIN_ONLY if builtin else ()) + ("progress",)
    params = list(inspect.signature(trainer).parameters.values())
    if not params or params[0].kind in (params[0].VAR_KEYWORD, params[0].KEYWORD_ONLY):
        raise ConfigError("trainer._target_", f"{target} must take the trial's config first")
    asks = set()
    for p in params[1:]:
        if p.kind == p.VAR_KEYWORD and builtin:
            asks.add("on_eval")  # as before: a built-in trainer taking **kwargs gets on_eval
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in offered:
            asks.add(p.name)
        elif p.default is inspect.Parameter.empty:
            why = (
                "data and cache are the built-in experiment's; your trainer loads its own data"
                if p.name in BUILTIN_ONLY
                else "it passes only: the config (first), then any of " + ", ".join(offered)
            )
            raise ConfigError(
                "trainer._target_",
                f"{target} needs a parameter {p.name!r} the orchestrator does not pass ({why});"
                " give it a default or drop it",
            )
    return frozenset(asks)


def resolve_function(target: str) -> TrainFunction:
    """Import ``package.module.function``; one ConfigError naming ``trainer._target_``."""
    module_name, _, attr = target.rpartition(".")
    if not module_name:
        raise ConfigError(
            "trainer._target_", f"must be a dotted path module.function; got {target!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(
            "trainer._target_",
            f"cannot import {target!r} ({err}); run from the directory that holds "
            f"{module_name.split('.')[0]}, put that directory on PYTHONPATH, or install your "
            "package (uv pip install -e .)",
        ) from None
    try:
        fn: object = getattr(module, attr)
    except AttributeError:
        raise ConfigError(
            "trainer._target_", f"{module_name} has no {attr!r} (in {module.__file__})"
        ) from None
    if not callable(fn):
        raise ConfigError("trainer._target_", f"{target!r} is not callable")
    return fn
