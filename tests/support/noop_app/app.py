"""A Hydra app that trains nothing, for the per-trial overhead benchmark: one report,
one returned value (the same work as ``trainers.own_noop``)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig
from trial_report import report


@hydra.main(version_base="1.3", config_path="configs", config_name="main")
def main(cfg: DictConfig) -> float:
    report(1, val_error=0.5)
    return 0.5


if __name__ == "__main__":
    main()
