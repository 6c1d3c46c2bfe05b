"""The one command-line entry: ``orchestrator stage=<stage> [hydra overrides]``.

Thin on purpose: it composes the config with Hydra, hands plain dataclasses to library
functions, prints what a person needs, and turns the orchestrator's own errors into one
clear line and a non-zero exit (no traceback for a typo in a config value).
"""

from __future__ import annotations

import inspect
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from orchestrator import paths
from orchestrator.config import (
    experiment_from_cfg,
    register_configs,
    resolve_trainer,
    root_from_cfg,
)
from orchestrator.exceptions import OrchestratorError, TrainerContractError
from orchestrator.stages import probe_once, run_round_stage
from orchestrator.train.config import ExperimentConfig, experiment_to_dict
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
    if root.stage == "probe":
        return probe_once(root, experiment)
    return run_round_stage(root, experiment, CONF_DIR / "round")


def _tty() -> bool:
    return sys.stderr.isatty()


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
