"""stage=train: train the composed config once with the configured trainer; keep its files."""

from __future__ import annotations

import inspect
import json
import logging
import sys
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config.schema import Config
from orchestrator.config.trainer import resolve_trainer
from orchestrator.exceptions import TrainerContractError
from orchestrator.store import paths
from orchestrator.train.config import ExperimentConfig, experiment_to_dict
from orchestrator.train.result import TrainResult, as_train_result

log = logging.getLogger("orchestrator")


def train(root: Config, experiment: ExperimentConfig) -> int:
    """One run into the Hydra run directory: result, config and curves."""
    from hydra.core.hydra_config import HydraConfig

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    result = train_once(experiment, root.trainer._target_, run_dir, progress=sys.stderr.isatty())
    print(result.summary())
    print(f"run files: {run_dir}/ (result.json, experiment.yaml, curves.html)")
    return 0


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
    from orchestrator.report.curves import write_curves_html  # plotly: only once trained

    write_curves_html(result, files["curves"])
    return result
