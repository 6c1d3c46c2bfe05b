"""The one command-line entry: ``orchestrator stage=<stage> [hydra overrides]``.

Thin on purpose: it composes the config with Hydra, hands plain dataclasses to library
functions, prints what a person needs, and turns the orchestrator's own errors into one
clear line and a non-zero exit (no traceback for a typo in a config value).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from orchestrator import __version__
from orchestrator.config.schema import (
    CONF_DIR,
    experiment_from_cfg,
    own_section_overrides,
    register_configs,
    root_from_cfg,
)
from orchestrator.exceptions import OrchestratorError
from orchestrator.store.files import atomic_write
from orchestrator.store.redaction import redact_text
from orchestrator.store.terminal_log import copying_terminal_to_log
from orchestrator.work.signals import Interrupted

log = logging.getLogger("orchestrator")


def run_stage(cfg: DictConfig) -> int:
    """Run the stage named by ``cfg.stage``; returns the process exit code."""
    root = root_from_cfg(cfg)
    experiment = experiment_from_cfg(cfg, root)
    from orchestrator.stages import run_stage as run  # after the config checks: they are quick

    return run(root, experiment)


class JobFailed(RuntimeError):
    """A multirun job ended with an error: Hydra records the job as failed, the others go on."""


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _hydra_entry(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    scrub_saved_configs(hydra_cfg, multirun)
    from orchestrator.work.gpus import configure_worker, follow_slurm_allocation

    if cfg.get("worker") is not None:  # before anything starts CUDA in this process
        configure_worker(int(cfg.worker), hydra_cfg.launcher.get("n_jobs") if multirun else None)
    else:
        follow_slurm_allocation()  # in a SLURM job: torch threads = the CPUs allocated
    with copying_terminal_to_log():  # the answer, findings and decision in cli.log too
        try:
            code = run_stage(cfg)
        except Interrupted as err:  # a stop signal during a training outside the worker loop
            print(f"stopped by {err.signame}", file=sys.stderr)
            sys.exit(128 + getattr(signal, err.signame, signal.SIGTERM).value)
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
    """Console script ``orchestrator``: the schema registered, then Hydra composes and runs.

    The working directory goes on the import path first, as ``python -m`` would put it, so
    ``trainer._target_=mymodule.train`` finds ``./mymodule.py`` from the console script too.
    """
    if sys.argv[1:] == ["--version"]:  # ours, not Hydra's (which would print Hydra's)
        print(f"orchestrator {__version__} (tuning-round-orchestrator)")
        return
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    register_configs()
    sys.argv[1:] = own_section_overrides(sys.argv[1:])
    _hydra_entry()
