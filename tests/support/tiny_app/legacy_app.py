"""The tiny app as an older app declares it: no version_base (Hydra assumes 1.1, whose
runs change into their output directory)."""

from __future__ import annotations

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig


@hydra.main(config_path="configs", config_name="main")
def main(cfg: DictConfig) -> float:
    Path("cwd.txt").write_text(os.getcwd())  # a relative output, as older apps write them
    return float(cfg.optim.lr)
