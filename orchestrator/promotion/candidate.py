"""The round's candidate: its best feasible trial, as a full configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna

from orchestrator.config.experiment import Experiment
from orchestrator.exceptions import OrchestratorError
from orchestrator.rounds.promotion_config import PromotionConfig
from orchestrator.rounds.space import Round
from orchestrator.store.record import Direction, TrialAttr, feasible_value


@dataclass(frozen=True)
class Candidate:
    study: str
    trial: int
    value: float
    config: Experiment


def find_candidate(rnd: Round, start: Experiment, storage: Any, cfg: PromotionConfig) -> Candidate:
    """The best feasible trial the round ran (of the named scientific point's study, when
    one is named); trials carried in from earlier rounds were those rounds' to promote."""
    direction = Direction(start.direction)
    points = rnd.points()
    if cfg.candidate is not None:  # parse_round made sure it is one of the points
        points = [p for p in points if p == dict(cfg.candidate)]
    best: Candidate | None = None
    for point in points:
        name = rnd.study_name(point)
        for t in optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False):
            if TrialAttr.CARRIED_FROM in t.user_attrs:
                continue  # an earlier round's trial (work/carry.py): this round's own only
            value = feasible_value(t)
            if value is not None and direction.better(value, best.value if best else None):
                config = start.with_values({**rnd.fixed, **point, **t.params})
                best = Candidate(name, t.number, value, config)
    if best is None:
        raise OrchestratorError(f"{rnd.name} has no feasible finished trial to promote; run it")
    return best
