"""The one command-line entry: ``orchestrator stage=<stage> [hydra overrides]``.

Thin on purpose: it composes the config with Hydra, hands plain dataclasses to library
functions, prints what a person needs, and turns the orchestrator's own errors into one
clear line and a non-zero exit (no traceback for a typo in a config value).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import hydra
import optuna
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from orchestrator import paths
from orchestrator.config import (
    Config,
    experiment_from_cfg,
    register_configs,
    resolve_trainer,
    root_from_cfg,
)
from orchestrator.exceptions import ConfigError, OrchestratorError, TrainerContractError
from orchestrator.roles import parse_round
from orchestrator.runner import format_summary, run_round
from orchestrator.storage import create_storage, redact
from orchestrator.train.config import (
    ExperimentConfig,
    experiment_from_dict,
    experiment_to_dict,
    validate_experiment,
)
from orchestrator.train.result import TrainResult, as_train_result

log = logging.getLogger("orchestrator")

register_configs()

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def train_once(
    experiment: ExperimentConfig, trainer_target: str, run_dir: Path, *, progress: bool
) -> TrainResult:
    """Train the experiment once with the configured trainer; keep result, config and curves."""
    trainer = resolve_trainer(trainer_target)

    def log_eval(step: int, metrics: dict[str, float]) -> None:
        log.info("step %d: %s", step, " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))

    kwargs: dict[str, Any] = {"on_eval": log_eval}
    if "progress" in inspect.signature(trainer).parameters:
        kwargs["progress"] = progress
    try:
        result = as_train_result(trainer(experiment, **kwargs))
    except TrainerContractError as err:
        raise TrainerContractError(f"trainer {trainer_target}: {err}") from None

    files = paths.run_files(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    files["config"].write_text(yaml.safe_dump(experiment_to_dict(experiment), sort_keys=False))
    files["result"].write_text(json.dumps(result.to_dict(), indent=1))
    from orchestrator.report.curves import write_curves_html

    write_curves_html(result, files["curves"])
    return result


def run_stage(cfg: DictConfig) -> int:
    """Run the stage named by ``cfg.stage``; returns the process exit code."""
    root = root_from_cfg(cfg)
    experiment = experiment_from_cfg(cfg)
    if root.stage == "train":
        run_dir = Path(HydraConfig.get().runtime.output_dir)
        result = train_once(experiment, root.trainer._target_, run_dir, progress=_tty())
        print(result.summary())
        print(f"run files: {run_dir}/ (result.json, experiment.yaml, curves.html)")
        return 0
    return run_round_stage(root, experiment)


def _tty() -> bool:
    return sys.stderr.isatty()


def starting_config(
    start_from: str, base: ExperimentConfig, studies: str
) -> tuple[ExperimentConfig, str]:
    """The incumbent when asked for and present, else the composed base config."""
    incumbent = paths.incumbent_file(studies)
    if start_from == "incumbent" and incumbent.exists():
        raw = yaml.safe_load(incumbent.read_text()) or {}
        config = experiment_from_dict(raw.get("experiment", raw))
        validate_experiment(config)
        return config, str(incumbent)
    if start_from == "incumbent":
        return base, f"the base config (no {incumbent} yet)"
    return base, "the base config"


def run_round_stage(root: Config, base: ExperimentConfig) -> int:
    """stage=work (trials only) and stage=run (every stage built so far): run the round."""
    if root.round is None:
        rounds = sorted(p.stem for p in (CONF_DIR / "round").glob("*.yaml"))
        raise ConfigError(
            "round", f"stage={root.stage} needs a round: round=<name>, one of {', '.join(rounds)}"
        )
    start, origin = starting_config(root.round.start_from, base, root.paths.studies)
    rnd = parse_round(root.round, start)
    storage = create_storage(root.storage)  # the schema exists before any trial runs
    rdir = paths.round_dir(root.paths.studies, rnd.name)
    rdir.mkdir(parents=True, exist_ok=True)
    record = {
        "name": rnd.name,
        "goal": rnd.goal,
        "start_from": origin,
        **rnd.roles(),
        "budget": dataclasses.asdict(rnd.budget),
        "promotion": rnd.promotion,
        "start_config": experiment_to_dict(start),
    }
    (rdir / "round.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
    where = root.storage.path if root.storage.kind == "journal" else redact(root.storage.url)
    print(f"round {rnd.name}: {rnd.goal}")
    print(f"  starting from {origin}")
    print(
        f"  {len(rnd.points())} studies x {rnd.budget.trials_per_study} trials, sampler "
        f"{rnd.budget.sampler} (seed {rnd.budget.seed}), store {where}"
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    summaries = run_round(
        rnd,
        start,
        storage,
        trainer_target=root.trainer._target_,
        artifacts_dir=paths.artifacts_dir(root.paths.studies),
        progress=_tty(),
    )
    print(format_summary(rnd, summaries, start.objective.metric))
    gave_up = [s.name for s in summaries if s.finished < s.budget]
    if gave_up:
        print(
            f"gave up on {', '.join(gave_up)}: too many failed trials (see the log)",
            file=sys.stderr,
        )
        return 1
    return 0


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _hydra_entry(cfg: DictConfig) -> None:
    try:
        code = run_stage(cfg)
    except OrchestratorError as err:
        # Hydra made this run's directory before our checks ran; a rejected run must leave
        # nothing behind, so remove it (it is new, and results are written only on success).
        shutil.rmtree(HydraConfig.get().runtime.output_dir, ignore_errors=True)
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    if code:
        sys.exit(code)


def main() -> None:
    """Console script ``orchestrator``."""
    _hydra_entry()
