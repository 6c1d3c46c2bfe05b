"""Hydra's state while an app's trial runs in the worker, set as a Hydra run of its own sets
it: ``HydraConfig`` (with the trial's output dir and overrides), Hydra's global state (the
app's search path), and the directory the app runs in (``hydra.job.chdir``). Each is made
once per worker and swapped in and out around a trial.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from omegaconf import DictConfig, read_write
from packaging.version import Version

LEGACY_BASE = "1.1"  # what Hydra assumes for an app that names no version_base


@contextmanager
def global_hydra_as(state: Any) -> Iterator[None]:
    """Hydra's global state swapped for ``state`` (an app's), the previous one back after."""
    saved = Singleton._instances.get(GlobalHydra)
    Singleton._instances[GlobalHydra] = state
    try:
        yield
    finally:
        if saved is None:
            del Singleton._instances[GlobalHydra]
        else:
            Singleton._instances[GlobalHydra] = saved


def hydra_state(composed: DictConfig) -> Any:
    """What ``HydraConfig`` holds during a Hydra run of this config (made once: copying the
    ``hydra`` node is the expensive part; a trial only changes its output dir)."""
    instance = HydraConfig.instance()
    saved = instance.cfg
    try:
        instance.set_config(composed)
        return instance.cfg
    finally:
        instance.cfg = saved


@contextmanager
def hydra_config(state: Any, output_dir: str | Path) -> Iterator[None]:
    """``HydraConfig`` set as a Hydra run sets it (``${hydra:runtime.output_dir}``
    resolves to ``output_dir``), the previous one back afterwards."""
    with read_write(state.hydra):
        state.hydra.runtime.output_dir = str(output_dir)
    instance = HydraConfig.instance()
    saved = instance.cfg
    instance.cfg = state
    try:
        yield
    finally:
        instance.cfg = saved


def working_dir_for(composed: DictConfig, output_dir: Path, version_base: str | None) -> str:
    """Where the app runs: its output dir when Hydra would change there (``hydra.job.chdir``;
    unset, an app of version base below 1.2 changes, as Hydra's ``run_job`` decides), else
    the current directory."""
    chdir = composed.hydra.job.get("chdir")
    if chdir is None:
        chdir = Version(version_base or LEGACY_BASE) < Version("1.2")
    return str(output_dir) if chdir else os.getcwd()


def set_trial_overrides(state: Any, overrides: list[str]) -> None:
    """The trial's overrides where a Hydra run keeps them: ``hydra.overrides.task`` and
    ``hydra.job.override_dirname`` (sorted, the configured separators and exclusions);
    overrides of ``hydra.*`` itself are not the task's."""
    job = state.hydra.job.config.override_dirname
    keys = [o.split("=", 1)[0].lstrip("+~") for o in overrides]
    task = [o for o, key in zip(overrides, keys, strict=True) if not key.startswith("hydra.")]
    kept = sorted(o for o in task if o.split("=", 1)[0].lstrip("+~") not in job.exclude_keys)
    with read_write(state.hydra):
        state.hydra.overrides.task = task
        state.hydra.job.override_dirname = job.item_sep.join(kept).replace("=", job.kv_sep)
