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
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from orchestrator import __version__
from orchestrator.config.schema import (
    CONF_DIR,
    own_section_overrides,
    register_configs,
    root_from_cfg,
)
from orchestrator.config.yaml_files import yaml_error_in, yaml_error_line
from orchestrator.exceptions import OrchestratorError
from orchestrator.store.files import atomic_write
from orchestrator.store.redaction import redact_text
from orchestrator.store.terminal_log import copying_terminal_to_log
from orchestrator.trainers.configured import experiment_from_cfg
from orchestrator.trainers.signals import Interrupted

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
    _let_hydra_report_errors()  # from here on (the task), Hydra reports as it always did
    with copying_terminal_to_log():  # the answer, findings and decision in cli.log too
        try:
            code = run_stage(cfg)
        except KeyboardInterrupt as err:  # Interrupted (a training stopped) or a plain Ctrl-C
            _stopped(err)
        except BrokenPipeError:  # the reader went away (orchestrator ... | head): no traceback
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the exit's flush goes nowhere
            sys.exit(1)
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


def _stopped(err: KeyboardInterrupt) -> NoReturn:
    """A stop signal at any point: one line and 128 + the signal's number, never a traceback.

    The store stays consistent: each write is a transaction, the context managers close the
    store and the ledger on the way out, and a trial running is FAIL with the reason."""
    name = err.signame if isinstance(err, Interrupted) else "SIGINT"
    print(f"stopped by {name}", file=sys.stderr)
    sys.exit(128 + getattr(signal, name, signal.SIGINT).value)


_FULL_ERROR = "HYDRA_FULL_ERROR"


def _let_hydra_report_errors() -> None:
    """``main`` asks Hydra to raise composition errors (so a YAML error is one line); the
    task's own errors are reported by Hydra as before, and child processes (a trainer's
    command, a Hydra app run apart) never inherit the setting."""
    if _OURS:
        os.environ.pop(_FULL_ERROR, None)
        _OURS.clear()


_OURS: list[bool] = []  # main set HYDRA_FULL_ERROR (a user's own setting is left alone)


def main() -> None:
    """Console script ``orchestrator``: the schema registered, then Hydra composes and runs.

    The working directory goes on the import path first, as ``python -m`` would put it, so
    ``trainer._target_=mymodule.train`` finds ``./mymodule.py`` from the console script too.
    A config file Hydra cannot read (a YAML tag, a syntax error) is one line naming the file,
    the line and the rule; Ctrl-C at any point is one line ("stopped by SIGINT"), exit 130.
    """
    if sys.argv[1:] == ["--version"]:  # ours, not Hydra's (which would print Hydra's)
        print(f"orchestrator {__version__} (tuning-round-orchestrator)")
        return
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    if _FULL_ERROR not in os.environ:  # composition errors come back here
        os.environ[_FULL_ERROR] = "1"
        _OURS.append(True)
    try:
        register_configs()
        sys.argv[1:] = own_section_overrides(sys.argv[1:])
        _hydra_entry()
    except KeyboardInterrupt as err:
        _stopped(err)
    except Exception as err:  # raised during composition, before the task ran
        _let_hydra_report_errors()
        bad_yaml = yaml_error_in(err)
        if bad_yaml is not None:
            print(f"error: {yaml_error_line(bad_yaml)}", file=sys.stderr)
            sys.exit(2)
        if isinstance(err, HydraException | OmegaConfBaseException):
            lines = [str(err)]
            if isinstance(err.__cause__, OmegaConfBaseException):
                lines.append(str(err.__cause__))
            print(f"error: {os.linesep.join(lines)}", file=sys.stderr)
            sys.exit(1)
        raise
