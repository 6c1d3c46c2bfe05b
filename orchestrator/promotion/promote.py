"""Promotion on evidence: adopt the round's best configuration only if it beats the
incumbent by more than seed noise, and keep the trail.

The candidate (the round's best feasible trial) and the incumbent are re-trained with the
same fresh seeds (paired, ``reruns.py``). The rule (``decision.py``) is a pure function of
the two value lists. Findings of severity ``block`` (``studies/<round>/findings.json``,
from the analysis stage) stop promotion unless ``force``. The decision goes to the ledger
as ``pending``, the incumbent file is replaced, then the decision is made ``final``:
re-running finishes an interrupted job and never decides a round twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from orchestrator.config.experiment import Experiment
from orchestrator.promotion.candidate import find_candidate
from orchestrator.promotion.decision import decide, decide_sequential
from orchestrator.promotion.reruns import rerun_values
from orchestrator.promotion.sequential import Look, look
from orchestrator.rounds.promotion_config import PromotionConfig
from orchestrator.rounds.space import Round
from orchestrator.store import paths
from orchestrator.store.decision_record import DecisionRecord, Verdict, runs_saved
from orchestrator.store.findings import Severity, read_findings
from orchestrator.store.incumbent import write_incumbent
from orchestrator.store.ledger import DecisionRow, Ledger
from orchestrator.store.record import Direction, StudyAttr, config_hash, promotion_study_name
from orchestrator.trainers.cache import TrainerCache


@dataclass(frozen=True)
class PromotionJob:
    """What a promotion needs besides the round: where things are, and who trains."""

    storage: Any
    ledger: Ledger
    studies: str | Path
    cache: TrainerCache = field(default_factory=TrainerCache)  # shared by the reruns


def promote(
    rnd: Round, start: Experiment, incumbent: Experiment, job: PromotionJob
) -> DecisionRow:
    """Decide on the round's candidate; write the incumbent on promotion; return the record."""
    existing = job.ledger.decision(rnd.name)
    if existing is None:
        job.ledger.record_pending(gather_evidence(rnd, start, incumbent, job))
        existing = job.ledger.decision(rnd.name)
        assert existing is not None
    if existing.state != "final":
        commit(existing, rnd, start, job)
    final = job.ledger.decision(rnd.name)
    assert final is not None
    return final


def gather_evidence(
    rnd: Round, start: Experiment, incumbent: Experiment, job: PromotionJob
) -> DecisionRecord:
    """Candidate, paired reruns of both, findings, and the rule's verdict."""
    cfg = rnd.promotion
    candidate = find_candidate(rnd, start, job.storage, cfg)
    study = optuna.create_study(
        study_name=promotion_study_name(rnd.name),
        storage=job.storage,
        direction=Direction(start.direction).value,
        load_if_exists=True,
    )
    study.set_user_attr(StudyAttr.ROUND, rnd.name)
    steps = incumbent.get(incumbent.length_key) if incumbent.length_key else None
    known = job.ledger.reruns(config_hash(incumbent), steps)
    maximize = Direction(start.direction).maximize
    block, warn = blocking_findings(job.studies, rnd.name)
    seeds, cand_values, inc_values, looked = _reruns_in_steps(
        study, candidate.config, incumbent, known, cfg, maximize, job
    )
    if looked:
        decision = decide_sequential(looked, cfg, blocking=block, warnings=warn)
    else:
        decision = decide(
            cand_values, inc_values, maximize=maximize, cfg=cfg, blocking=block, warnings=warn
        )
    return DecisionRecord(
        round_name=rnd.name,
        candidate_study=candidate.study,
        candidate_trial=candidate.trial,
        candidate_config=dict(candidate.config.tree),
        candidate_hash=config_hash(candidate.config),
        incumbent_hash=config_hash(incumbent),
        seeds=seeds,
        candidate_values=cand_values,
        incumbent_values=inc_values,
        effect=decision.effect,
        ci_low=decision.ci_low,
        ci_high=decision.ci_high,
        rule={
            **decision.rule,
            "steps": steps,
            "cap": len(cfg.seed_list),
            "saved_runs": _saved_runs(cfg.seed_list, len(seeds), known),
            "candidate_why": candidate.why,
        },
        verdict=decision.verdict,
        reason=decision.reason,
    )


def _saved_runs(seed_list: list[int], used: int, known: dict[int, float]) -> int:
    """Reruns not trained because the decision stopped after ``used`` seeds: the
    candidate's remaining seeds and the incumbent's the ledger does not hold."""
    rest = seed_list[used:]
    return len(rest) + sum(seed not in known for seed in rest)


def _reruns_in_steps(
    study: optuna.Study,
    candidate: Experiment,
    incumbent: Experiment,
    known: dict[int, float],
    cfg: PromotionConfig,
    maximize: bool,
    job: PromotionJob,
) -> tuple[list[int], list[float], list[float], list[Look]]:
    """(seeds, candidate values, incumbent values, looks): paired reruns seed by seed up
    to each look of ``cfg.schedule`` until one settles it (one look, every seed, when not
    sequential: then no look is returned and the fixed rule decides)."""
    looked: list[Look] = []
    for n in cfg.schedule:
        seeds = cfg.seed_list[:n]
        inc = rerun_values(study, "incumbent", incumbent, seeds, known, job.cache, job.studies)
        cand = rerun_values(study, "candidate", candidate, seeds, {}, job.cache, job.studies)
        if len(cfg.schedule) == 1:
            break
        sign = 1.0 if maximize else -1.0  # both sides as "larger is better"
        better_c, better_i = [sign * v for v in cand], [sign * v for v in inc]
        looked.append(look(better_c, better_i, cfg.schedule, cfg.alpha, cfg.min_improvement))
        if looked[-1].outcome != "continue":
            break
    return seeds, cand, inc, looked


def commit(decision: DecisionRow, rnd: Round, start: Experiment, job: PromotionJob) -> None:
    """The second step: the incumbent file (on promotion), then the decision made final."""
    if decision.verdict == Verdict.PROMOTED:
        evidence = {
            "decision": decision.reason,
            "seeds": decision.seeds,
            "candidate_values": decision.candidate_values,
            "incumbent_values": decision.incumbent_values,
            "candidate": f"{decision.candidate_study} trial {decision.candidate_trial}",
        }
        config = start.with_tree(decision.candidate_config)
        write_incumbent(job.studies, config, rnd.name, evidence)
        _after_incumbent_written()
    job.ledger.finalise(rnd.name)
    job.ledger.set_round_status(rnd.name, "decided")


def _after_incumbent_written() -> None:
    """A seam for the crash test: nothing happens here in a real run."""


def blocking_findings(studies: str | Path, round_name: str) -> tuple[list[str], list[str]]:
    """(block messages, a one-line summary of warnings) from ``findings.json``, when present."""
    path = paths.findings_file(studies, round_name)
    findings = read_findings(path) or []
    block = [f.message for f in findings if f.severity == Severity.BLOCK]
    kinds = Counter(f.kind for f in findings if f.severity == Severity.WARN)
    if not kinds:
        return block, []
    listed = ", ".join(f"{k} x{n}" for k, n in kinds.most_common())
    return block, [f"{sum(kinds.values())} warn findings ({listed}) in {path}"]


def format_decision(row: DecisionRow) -> str:
    lines = [
        f"promotion of {row.round_name}: {row.verdict.upper()}",
        f"  candidate: {row.candidate_study} trial {row.candidate_trial}"
        + (f": {row.rule['candidate_why']}" if row.rule.get("candidate_why") else ""),
        f"  {'seed':>6}  {'candidate':>10}  {'incumbent':>10}",
    ]
    for seed, c, i in zip(row.seeds, row.candidate_values, row.incumbent_values, strict=True):
        lines.append(f"  {seed:>6}  {c:>10.4f}  {i:>10.4f}")
    lines.append(f"  {row.reason}")
    cap = row.rule.get("cap")
    if row.rule.get("looks") and cap:
        used = len(row.seeds)
        saved = runs_saved(row.rule, used)
        lines.append(
            f"  seeds: {used} of at most {cap} each"
            + (f" ({saved} runs saved by stopping once settled)" if saved else "")
        )
    return "\n".join(lines)
