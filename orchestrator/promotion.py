"""Promotion on evidence: adopt the round's best configuration only if it beats the
incumbent by more than seed noise, and keep the trail.

The candidate (the round's best feasible trial) and the incumbent are re-trained with the
same fresh seeds (paired), as trials of the ``<round>/promotion`` study so they show in
optuna-dashboard. The rule is a pure function of the two value lists: promote when the
mean paired improvement exceeds ``min_improvement`` and is significant (a one-sided
paired t-test at ``alpha``, or a multiple of its standard error). Findings of severity
``block`` (``studies/<round>/findings.json``, from the analysis stage) stop promotion
unless ``force``. The decision goes to the ledger as ``pending``, the incumbent file is
replaced, then the decision is made ``final``: re-running finishes an interrupted job.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from orchestrator import paths
from orchestrator.config import resolve_trainer
from orchestrator.decision import PromotionConfig, decide
from orchestrator.exceptions import OrchestratorError
from orchestrator.incumbent import write_incumbent
from orchestrator.ledger import DecisionRow, Ledger
from orchestrator.objective import INFEASIBLE, infeasible_value
from orchestrator.params import with_values
from orchestrator.roles import Round
from orchestrator.runner import config_hash
from orchestrator.train.config import ExperimentConfig, experiment_from_dict, experiment_to_dict
from orchestrator.train.result import as_train_result

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    study: str
    trial: int
    value: float
    config: ExperimentConfig


def find_candidate(
    rnd: Round, start: ExperimentConfig, storage: Any, cfg: PromotionConfig
) -> Candidate:
    """The best feasible trial of the round (or of the named scientific point's study)."""
    maximize = start.objective.direction == "maximize"
    points = rnd.points()
    if cfg.candidate is not None:  # parse_round made sure it is one of the points
        points = [p for p in points if p == dict(cfg.candidate)]
    best: Candidate | None = None
    for point in points:
        name = rnd.study_name(point)
        for t in optuna.load_study(study_name=name, storage=storage).get_trials(
            deepcopy=False, states=(TrialState.COMPLETE,)
        ):
            if t.constraints.get(INFEASIBLE, 0.0) > 0:
                continue
            if best is None or (t.value > best.value if maximize else t.value < best.value):
                config = with_values(start, {**rnd.fixed, **point, **t.params})
                best = Candidate(name, t.number, t.value, config)
    if best is None:
        raise OrchestratorError(f"{rnd.name} has no feasible finished trial to promote; run it")
    return best


def blocking_findings(studies: str | Path, round_name: str) -> tuple[list[str], list[str]]:
    """(block messages, a one-line summary of warnings) from ``findings.json``, when present."""
    path = paths.round_dir(studies, round_name) / "findings.json"
    if not path.exists():
        return [], []
    findings = json.loads(path.read_text())
    block = [f["message"] for f in findings if f.get("severity") == "block"]
    kinds = Counter(f["kind"] for f in findings if f.get("severity") == "warn")
    if not kinds:
        return block, []
    listed = ", ".join(f"{k} x{n}" for k, n in kinds.most_common())
    return block, [f"{sum(kinds.values())} warn findings ({listed}) in {path}"]


Trainer = Callable[..., Any]


def rerun_values(
    study: optuna.Study,
    role: str,
    config: ExperimentConfig,
    seeds: list[int],
    trainer: Trainer,
    known: Mapping[int, float],
) -> list[float]:
    """The objective of ``config`` trained with each seed, reusing what is stored already."""
    digest = config_hash(config)
    done = {
        t.user_attrs["seed"]: t.value
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.user_attrs.get("config_hash") == digest
    }
    values = []
    for seed in seeds:
        if seed in done:
            values.append(done[seed])
        elif seed in known:
            log.info(
                "%s seed %d: %.4g from the ledger (already measured)", role, seed, known[seed]
            )
            values.append(known[seed])
        else:
            values.append(_train(study, role, config, seed, digest, trainer))
    return values


def _train(
    study: optuna.Study,
    role: str,
    config: ExperimentConfig,
    seed: int,
    digest: str,
    trainer: Trainer,
) -> float:
    seeded = with_values(config, {"train.seed": seed})
    with warnings.catch_warnings():  # ask/tell on a heartbeat store: reruns are supervised here
        warnings.simplefilter("ignore", UserWarning)
        trial = study.ask()
    for key, value in {"role": role, "seed": seed, "config_hash": digest}.items():
        trial.set_user_attr(key, value)
    try:
        result = as_train_result(trainer(seeded))
    except Exception:
        study.tell(trial, state=TrialState.FAIL)
        raise
    if result.diverged:  # recorded like a round's infeasible trial, valued at the worst
        value = infeasible_value(config.objective.metric, result)
        trial.set_user_attr("infeasible_reason", result.divergence_reason)
        trial.set_constraint(INFEASIBLE, 1.0)
        study.tell(trial, value)
        log.info("%s seed %d diverged: %s", role, seed, result.divergence_reason)
        return value
    assert result.objective is not None
    trial.set_constraint(INFEASIBLE, 0.0)
    study.tell(trial, result.objective)
    log.info("%s seed %d: %s=%.4g", role, seed, config.objective.metric, result.objective)
    return result.objective


def _after_incumbent_written() -> None:
    """A seam for the crash test: nothing happens here in a real run."""


def promote(
    rnd: Round,
    start: ExperimentConfig,
    incumbent: ExperimentConfig,
    *,
    storage: Any,
    ledger: Ledger,
    studies: str | Path,
    trainer_target: str,
) -> DecisionRow:
    """Decide on the round's candidate; write the incumbent on promotion; return the record."""
    existing = ledger.decision(rnd.name)
    if existing is not None and existing.state == "final":
        return existing
    if existing is None:
        cfg = rnd.promotion
        candidate = find_candidate(rnd, start, storage, cfg)
        study = optuna.create_study(
            study_name=f"{rnd.name}/promotion",
            storage=storage,
            direction=start.objective.direction,
            load_if_exists=True,
        )
        study.set_user_attr("round", rnd.name)
        trainer, seeds = resolve_trainer(trainer_target), cfg.seed_list
        steps = incumbent.train.steps
        known = ledger.reruns(config_hash(incumbent), steps)
        inc_values = rerun_values(study, "incumbent", incumbent, seeds, trainer, known)
        cand_values = rerun_values(study, "candidate", candidate.config, seeds, trainer, {})
        block, warn = blocking_findings(studies, rnd.name)
        decision = decide(
            cand_values,
            inc_values,
            maximize=start.objective.direction == "maximize",
            cfg=cfg,
            blocking=block,
            warnings=warn,
        )
        ledger.record_pending(
            round_name=rnd.name,
            candidate_study=candidate.study,
            candidate_trial=candidate.trial,
            candidate_config=experiment_to_dict(candidate.config),
            candidate_hash=config_hash(candidate.config),
            incumbent_hash=config_hash(incumbent),
            seeds=seeds,
            candidate_values=cand_values,
            incumbent_values=inc_values,
            effect=decision.effect,
            ci_low=decision.ci_low,
            ci_high=decision.ci_high,
            rule={**decision.rule, "steps": steps},
            verdict=decision.verdict,
            reason=decision.reason,
        )
        existing = ledger.decision(rnd.name)
        assert existing is not None
    if existing.verdict == "promoted":
        evidence = {
            "decision": existing.reason,
            "seeds": existing.seeds,
            "candidate_values": existing.candidate_values,
            "incumbent_values": existing.incumbent_values,
            "candidate": f"{existing.candidate_study} trial {existing.candidate_trial}",
        }
        write_incumbent(
            studies, experiment_from_dict(existing.candidate_config), rnd.name, evidence
        )
        _after_incumbent_written()
    ledger.finalise(rnd.name)
    ledger.set_round_status(rnd.name, "decided")
    final = ledger.decision(rnd.name)
    assert final is not None
    return final


def format_decision(row: DecisionRow) -> str:
    lines = [
        f"promotion of {row.round_name}: {row.verdict.upper()}",
        f"  candidate: {row.candidate_study} trial {row.candidate_trial}",
        f"  {'seed':>6}  {'candidate':>10}  {'incumbent':>10}",
    ]
    for seed, c, i in zip(row.seeds, row.candidate_values, row.incumbent_values, strict=True):
        lines.append(f"  {seed:>6}  {c:>10.4f}  {i:>10.4f}")
    lines.append(f"  {row.reason}")
    return "\n".join(lines)


def format_history(rows: list[DecisionRow]) -> str:
    """The lineage of incumbents, round by round."""
    if not rows:
        return "no promotion decisions yet: run a round (make round-1)"
    lines = ["lineage of incumbents (base config first):", "  base config"]
    for row in rows:
        mark = "->" if row.verdict == "promoted" else "  "
        lines.append(
            f"  {mark} {row.round_name}: {row.verdict} ({row.candidate_study} trial "
            f"{row.candidate_trial}; effect {row.effect:+.4g} "
            f"[{row.ci_low:+.4g}, {row.ci_high:+.4g}]) {row.created_at:%Y-%m-%d %H:%M}"
        )
    return "\n".join(lines)
