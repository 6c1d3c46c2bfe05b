"""stage=train: train the composed config once with the configured trainer; keep its files."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from orchestrator.config.experiment import Experiment
from orchestrator.config.schema import Config
from orchestrator.exceptions import TrainerContractError
from orchestrator.store import paths
from orchestrator.train.result import TrainResult
from orchestrator.trainers.cache import TrainerCache
from orchestrator.trainers.protocol import TrialPlace
from orchestrator.trainers.reports import Reports
from orchestrator.trainers.signals import interrupting_training

log = logging.getLogger("orchestrator")


def train(root: Config, experiment: Experiment) -> int:
    """One run into the Hydra run directory: result, config and curves."""
    from hydra.core.hydra_config import HydraConfig

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    result = train_once(experiment, run_dir, progress=sys.stderr.isatty())
    print(result.summary())
    print(f"run files: {run_dir}/ (result.json, experiment.yaml, curves.html)")
    return 0


def train_once(experiment: Experiment, run_dir: Path, *, progress: bool) -> TrainResult:
    """Train the experiment once with its trainer; keep result, config and curves."""

    def log_step(step: int, metrics: Mapping[str, float]) -> None:
        log.info("step %d: %s", step, " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))

    reports = Reports.of(experiment, echo=log_step)
    try:
        place = TrialPlace("train", run_dir / "trial")
        with interrupting_training():  # a stop signal stops a child trainer too
            result = TrainerCache().train(experiment, reports, place, progress=progress)
    except TrainerContractError as err:
        raise TrainerContractError(f"trainer {experiment.trainer}: {err}") from None

    files = paths.run_files(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    document = {"trainer": experiment.trainer, "experiment": dict(experiment.tree)}
    files["config"].write_text(yaml.safe_dump(document, sort_keys=False))
    files["result"].write_text(json.dumps(result.to_dict(), indent=1))
    from orchestrator.report.curves import write_curves_html  # plotly: only once trained

    write_curves_html(result, files["curves"])
    return result
