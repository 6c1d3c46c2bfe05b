"""stage=from_sweeper: a Hydra app's Optuna sweeper search space as a round file to finish.

``orchestrator --config-dir conf --config-name <yours> stage=from_sweeper`` composes the app
(``trainer.kind=hydra_app``), reads its ``hydra.sweeper`` (hydra-optuna-sweeper's params,
direction, n_trials) and writes ``<config dir>/round/<name>.yaml``, where ``round=<name>``
finds it (``round.name=<name>``, else the sweeper's study_name, else ``<app>_1``); an
existing file is never replaced. It prints where it wrote and what is left.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.experiment import Experiment
from orchestrator.config.schema import Config
from orchestrator.config.trainer_settings import HydraAppSettings
from orchestrator.exceptions import ConfigError
from orchestrator.store.files import atomic_write
from orchestrator.trainers.hydra_app.compose import app_job_name, compose_app, located
from orchestrator.trainers.hydra_app.round_draft import round_name, round_text
from orchestrator.trainers.hydra_app.sweep_space import sweep_space


def from_sweeper(root: Config, experiment: Experiment) -> int:
    """Draft the round file from the app's sweeper; print where and what to fill in."""
    app = experiment.trainer_settings
    if not isinstance(app, HydraAppSettings):
        raise ConfigError(
            "trainer.kind",
            "stage=from_sweeper reads a Hydra app's hydra.sweeper: set trainer.kind=hydra_app "
            "and trainer._target_ to the app's @hydra.main function",
        )
    app = located(app)
    space = sweep_space(compose_app(app))
    chosen = root.round.name if root.round is not None else ""  # round.name=<name>
    name = round_name(chosen or space.study_name or f"{app_job_name(app)}_1")
    path = config_dir() / "round" / f"{name}.yaml"
    if path.exists():
        raise ConfigError(
            "stage",
            f"{path} exists already and is kept: move it away or name another "
            "(round.name=<name>) to draft it again",
        )
    atomic_write(path, round_text(space, name, f"{app.config_name}.yaml in {app.config_dir}"))
    print(f"wrote {path}: {len(space.nuisance)} nuisance parameters ({', '.join(space.nuisance)})")
    print("fill in: scientific (the parameter(s) the round asks about, with their values),")
    print("         goal, budget.trials_per_study (trials per scientific value)")
    if space.direction and space.direction != experiment.direction:
        print(
            f"note: the sweeper's direction is {space.direction}, objective.direction is "
            f"{experiment.direction}: set objective.direction: {space.direction}"
        )
    print(f"then run it: orchestrator ... round={name}")
    return 0


def config_dir() -> Path:
    """The user's config dir (``--config-dir``) as Hydra's run has it, else ``./conf``."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        for source in HydraConfig.get().runtime.config_sources:
            if source.provider == "command-line" and source.schema == "file":
                return Path(source.path).resolve()
    return Path("conf").resolve()
