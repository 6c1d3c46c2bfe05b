"""The trainer named by ``trainer._target_``, imported and checked.

Plain importlib rather than ``hydra.utils`` so a worker, a promotion rerun or a test can
resolve a trainer from a stored config without Hydra being initialised.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from orchestrator.child import trial_report
from orchestrator.exceptions import ConfigError

# The user's code imports the reporting helper as ``trial_report``; in the orchestrator's
# process that name is this one module, set before any user module is imported here, so
# its reports reach the running trial whatever the install (editable or a wheel).
sys.modules.setdefault("trial_report", trial_report)

Trainer = Callable[..., Any]


def resolve_trainer(target: str) -> Trainer:
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
        fn = getattr(module, attr)
    except AttributeError:
        raise ConfigError(
            "trainer._target_", f"{module_name} has no {attr!r} (in {module.__file__})"
        ) from None
    if not callable(fn):
        raise ConfigError("trainer._target_", f"{target!r} is not callable")
    return fn
