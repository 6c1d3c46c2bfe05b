"""The tiny app's config, its task wrapped by a decorator from another folder."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from tests.support.wrapping import task_wrapper


@hydra.main(version_base="1.3", config_path="configs", config_name="main")
@task_wrapper
def main(cfg: DictConfig) -> float:
    return float(cfg.optim.lr)
