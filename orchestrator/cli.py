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
from hydra.types import RunMode
from omegaconf import DictConfig

from orchestrator import paths
from orchestrator.config import (
    experiment_from_cfg,
    register_configs,
    resolve_trainer,
    root_from_cfg,
)
from orchestrator.exceptions import OrchestratorError, TrainerContractError
from orchestrator.gpus import configure_worker
from orchestrator.incumbent import atomic_write
from orchestrator.stages import probe_once, run_round_stage
from orchestrator.storage import redact_text
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


class JobFailed(RuntimeError):
    """A multirun job ended with an error: Hydra records the job as failed, the others go on."""


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _hydra_entry(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    scrub_saved_configs(hydra_cfg, multirun)
    if cfg.get("worker") is not None:  # before anything starts CUDA in this process
        configure_worker(int(cfg.worker), hydra_cfg.launcher.get("n_jobs") if multirun else None)
    try:
        code = run_stage(cfg)
    except OrchestratorError as err:
        # Hydra made this run's directory before our checks ran; a rejected run must leave
        # nothing behind, so remove it (it is new, and results are written only on success).
        shutil.rmtree(hydra_cfg.runtime.output_dir, ignore_errors=True)
        print(f"error: {err}", file=sys.stderr)
        if multirun:  # an exception, not an exit: Hydra marks this job failed, others go on
            raise JobFailed(str(err)) from None
        sys.exit(2)
    if code and multirun:
        raise JobFailed(
            f"job {hydra_cfg.job.num} ({' '.join(hydra_cfg.overrides.task)}) "
            f"ended with exit code {code}"
        )
    if code:
        sys.exit(code)


def scrub_saved_configs(hydra_cfg: Any, multirun: bool) -> None:
    """Hydra saves the config and the command-line overrides as typed (reliability.md 3): a
    password given as ``storage.url=...`` would sit in clear text in ``.hydra/`` and in
    ``multirun.yaml``. Rewrite those files with passwords replaced by ***."""
    out = Path(hydra_cfg.runtime.output_dir)
    files = list((out / hydra_cfg.output_subdir).glob("*.yaml")) if hydra_cfg.output_subdir else []
    if multirun:
        files.append(Path(hydra_cfg.sweep.dir) / "multirun.yaml")
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        clean = redact_text(text)
        if clean != text:
            atomic_write(path, clean)


def main() -> None:
    """Console script ``orchestrator``."""
    _hydra_entry()
