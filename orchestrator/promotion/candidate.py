"""The round's candidate, as a full configuration: chosen against the winner's curse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna

from orchestrator.analysis.candidate_rank import candidate_trial
from orchestrator.analysis.load import study_record
from orchestrator.config.experiment import Experiment
from orchestrator.exceptions import OrchestratorError
from orchestrator.rounds.promotion_config import PromotionConfig
from orchestrator.rounds.space import Round
from orchestrator.store.record import Direction


@dataclass(frozen=True)
class Candidate:
    study: str
    trial: int
    value: float  # its observed value
    config: Experiment
    why: str = ""


def find_candidate(rnd: Round, start: Experiment, storage: Any, cfg: PromotionConfig) -> Candidate:
    """The round's candidate: in each study (or the named scientific point's), the best
    trial the round ran itself (carried trials were earlier rounds' to promote), or with
    ``promotion.pick: discounted`` the best noise-discounted rank among its top trials
    (``analysis/candidate_rank.py``); the best observed of those across studies."""
    direction = Direction(start.direction)
    points = rnd.points()
    if cfg.candidate is not None:  # parse_round made sure it is one of the points
        points = [p for p in points if p == dict(cfg.candidate)]
    best: Candidate | None = None
    for point in points:
        name = rnd.study_name(point)
        record = study_record(optuna.load_study(study_name=name, storage=storage), None, point)
        found = candidate_trial(record, discount=cfg.pick == "discounted")
        if found is None:
            continue
        trial, estimate, why = found
        if direction.better(estimate, best.value if best else None):
            config = start.with_values({**rnd.fixed, **point, **trial.params})
            best = Candidate(name, trial.number, estimate, config, why)
    if best is None:
        raise OrchestratorError(f"{rnd.name} has no feasible finished trial to promote; run it")
    return best
