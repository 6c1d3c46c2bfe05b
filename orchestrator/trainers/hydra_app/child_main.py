"""A Hydra app's trial in a process of its own (``trainer.subprocess=true``):
``python -m orchestrator.trainers.hydra_app.child_main TARGET CONFIG_DIR CONFIG_NAME
VERSION_BASE [overrides]``.

Hydra runs the app's task function here exactly as from the app's own command line
(logging, output dir, ``chdir``), with the trial's overrides (the app's sweeper and
launcher selections deleted first, as when the orchestrator composes it: one trial is one
run). Its return value, which a Hydra run would drop, is written for the worker as the
trial's final metrics: a number under the objective's name (``ORCHESTRATOR_OBJECTIVE``),
or a dict's numbers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any


def main(argv: list[str]) -> None:
    target, config_dir, config_name, version_base, *overrides = argv
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    import hydra

    from orchestrator.child import trial_report
    from orchestrator.trainers.hydra_app.compose import app_functions, quiet_version_base

    sys.modules.setdefault("trial_report", trial_report)
    _, task_function, _ = app_functions(target)
    metric = os.environ.get("ORCHESTRATOR_OBJECTIVE", "objective")

    def task(cfg: Any) -> Any:
        value = task_function(cfg)
        if isinstance(value, Mapping):
            numbers = {str(k): v for k, v in value.items() if _is_number(v)}
            if numbers:
                trial_report.final(**numbers)
        elif _is_number(value):
            trial_report.final(**{metric: value})
        return value

    sys.argv = [target, *overrides]
    with quiet_version_base():  # the app's own base, passed on: the app was warned on import
        run = hydra.main(
            config_path=config_dir, config_name=config_name, version_base=version_base
        )
    run(task)()


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool | str)


if __name__ == "__main__":
    main(sys.argv[1:])
