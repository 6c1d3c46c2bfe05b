"""A tiny Hydra app for the tests (no torch): its own ``trainer`` group, an interpolation
into a tuned key, ``${hydra:runtime.output_dir}``, a structured-config-free YAML tree.

``loss = (optim.lr - 0.1)^2 + 0.01 * trainer.epochs / step``, reported per epoch through
``trial_report``; returns the last loss. It writes what it saw into its output dir.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import hydra
from hydra import compose
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from trial_report import report


@hydra.main(version_base="1.3", config_path="configs", config_name="main")
def main(cfg: DictConfig) -> float:
    out = Path(cfg.paths.output_dir)
    seen = {
        "cfg": OmegaConf.to_container(cfg, resolve=True),
        "cwd": os.getcwd(),
        "hydra_output_dir": HydraConfig.get().runtime.output_dir,
        "task_overrides": list(HydraConfig.get().overrides.task),
        "override_dirname": HydraConfig.get().job.override_dirname,
        "composed_momentum": compose(config_name="main").optim.momentum,  # its own search path
        "env": os.environ.get("TINY_ENV"),
    }
    (out / "seen.json").write_text(json.dumps(seen))
    if cfg.fail:
        raise RuntimeError("the app failed on purpose")
    loss = 0.0
    for step in range(1, cfg.trainer.epochs + 1):
        loss = (cfg.optim.lr - 0.1) ** 2 + 0.01 * cfg.trainer.epochs / step
        if report(step, loss=loss, max_lr=cfg.optim.max_lr):
            break
    return loss


if __name__ == "__main__":
    main()
