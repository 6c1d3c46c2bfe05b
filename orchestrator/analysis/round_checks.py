"""Checks across a round's studies (PLAYBOOK.md 4): the step budget and the comparison.

Some questions have no answer within one study: whether the one step budget every trial
shares was too small or too large, and whether the scientific values compared by the round
are separated by more than tuning noise, with each of them tuned well enough for the
comparison to be fair. These checks take all the round's studies (a round's studies share
metric and direction) and, like the per-study checks, are pure functions returning
:class:`Finding`s.
"""

from __future__ import annotations

import math

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.noise import CLEAR_GAP, measured_noise
from orchestrator.analysis.outcomes import fmt, objective_values
from orchestrator.analysis.space_checks import boundary, trials_per_study_needed
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.findings import Finding, Kind, Severity

# --------------------------------------------------------------------------- step budget

LENGTH_KEY = "train.steps"  # how the checks name the training length (analysis/run.py maps it)


MIN_SPREAD_EVALS = 3  # evaluations a trial needs, the first by half of training


def evaluated_along(trial: TrialRecord) -> bool:
    """Whether the trial evaluated several times spread over its run: at least
    ``MIN_SPREAD_EVALS`` evaluations, the first by half of its steps. A trial that evaluates
    once, at the end, always has its best there, which says nothing about the budget."""
    evals = [s for s in (trial.curves or {}).get("eval_step") or [] if s is not None]
    if len(evals) < MIN_SPREAD_EVALS or not trial.max_steps:
        return False
    return bool(min(evals) <= 0.5 * trial.max_steps)


def _top_steps(study: StudyRecord, top_k: int) -> list[tuple[int, int]]:
    """``(best_step, max_steps)`` of the study's top ``top_k`` complete trials that have
    both and evaluated along their run (:func:`evaluated_along`)."""
    steps = [
        (t.best_step, t.max_steps)
        for t in study.ranked()
        if t.best_step is not None and t.max_steps and evaluated_along(t)
    ]
    return steps[:top_k]


def step_budget(
    studies: list[StudyRecord], cfg: AnalysisConfig, *, top_k: int = 3
) -> list[Finding]:
    """The 10% / 25% rule on where the best checkpoint falls (one budget for all trials).

    Looks at ``best_step / max_steps`` of the top ``top_k`` complete trials of every study.
    If ALL are ``<= step_budget_early``, the budget is too large (``warn``: compute is wasted
    on steps that never produce the best checkpoint); the suggestion ``{"train.steps": s}``
    with ``s = min(max_steps, ceil(4 x latest best step))`` puts the latest best checkpoint
    at a quarter of the new budget, clear of both rules. If ALL are ``>= 1 -
    step_budget_late``, a longer budget may help (``info``: "may", since the schedule decays
    towards the end anyway); the suggestion doubles the largest ``max_steps``. "Always" is
    the rule: with mixed positions, or no trial with step information, it is silent. Only
    trials that evaluated along their run count (:func:`evaluated_along`); when none did,
    the ``skipped`` findings say so.
    """
    steps = [s for study in studies for s in _top_steps(study, top_k)]
    if not steps:
        return []
    fractions = [best / total for best, total in steps]
    latest = max(best for best, _ in steps)
    budget = max(total for _, total in steps)
    where = f"The best checkpoint of all {len(steps)} top trials of {len(studies)} studies"
    if all(f <= cfg.step_budget_early for f in fractions):
        new = max(min(budget, math.ceil(4 * latest)), 1)
        message = (
            f"{where} is in the first {cfg.step_budget_early:.0%} of "
            f"training (latest at step {latest} of {budget}, {max(fractions):.0%}), so the "
            f"step budget is too large: about {new} steps would do."
        )
        return [Finding(Kind.STEP_BUDGET, Severity.WARN, message, None, None, {LENGTH_KEY: new})]
    if all(f >= 1.0 - cfg.step_budget_late for f in fractions):
        new = 2 * budget
        message = (
            f"{where} is in the last {cfg.step_budget_late:.0%} of "
            f"training (earliest at {min(fractions):.0%} of {budget} steps), so a longer "
            f"budget such as {new} steps may help."
        )
        return [Finding(Kind.STEP_BUDGET, Severity.INFO, message, None, None, {LENGTH_KEY: new})]
    return []


# --------------------------------------------------------------------------- comparison


def _isolation_view(
    studies: list[StudyRecord],
) -> tuple[list[tuple[StudyRecord, float]], list[StudyRecord]]:
    """Studies with their best value, best first, and the studies with no complete trial."""
    with_best = [(s, objective_values(s)[0]) for s in studies if objective_values(s)]
    without = [s for s in studies if not objective_values(s)]
    maximize = studies[0].maximize
    with_best.sort(key=lambda pair: pair[1], reverse=maximize)
    return with_best, without


def _comparison_info(studies: list[StudyRecord]) -> Finding:
    """The isolation view: each scientific value's best objective, and the winner."""
    ranked, without = _isolation_view(studies)
    metric = studies[0].metric
    parts = [f"{s.name} {fmt(v)}" for s, v in ranked]
    parts += [f"{s.name} no complete trial" for s in without]
    winner = ranked[0][0].name if ranked else None
    tail = f"; winner {winner}" if winner else "; no winner"
    message = f"Best {metric} per study (isolation view): {', '.join(parts)}{tail}."
    suggestion = {"best": {s.name: v for s, v in ranked}, "winner": winner}
    return Finding(Kind.COMPARISON, Severity.INFO, message, None, None, suggestion)


def _gap_finding(ranked: list[tuple[StudyRecord, float]]) -> Finding | None:
    """A warning when winner and runner-up differ by no more than the noise of the gap.

    The noise of each best value is its measured noise
    (:func:`~orchestrator.analysis.measured.measured_noise`: sampling noise, repeats, 0 for
    a deterministic objective); the gap's is their root sum of squares, and a gap within
    ``CLEAR_GAP`` of it is noise: the same rule, and the same numbers, the round's answer
    ranks by and quotes. Silent when either noise is not measured (the answer says so)."""
    if len(ranked) < 2:
        return None
    (winner, best), (runner, second) = ranked[0], ranked[1]
    noises = [measured_noise(winner), measured_noise(runner)]
    if any(n.value is None for n in noises):
        return None
    spread = math.hypot(*(n.value or 0.0 for n in noises))
    gap = abs(best - second)
    if gap > CLEAR_GAP * spread:
        return None
    message = (
        f"The gap {fmt(gap)} between winner {winner.name} ({fmt(best)}) and runner-up "
        f"{runner.name} ({fmt(second)}) is within {CLEAR_GAP:g} noises {fmt(spread)} of the "
        f"difference ({'; '.join(n.source for n in noises)}), so the comparison is within "
        "tuning noise."
    )
    suggestion = {"winner": winner.name, "runner_up": runner.name, "gap": gap, "spread": spread}
    return Finding(Kind.COMPARISON, Severity.WARN, message, winner.name, None, suggestion)


def _thin_finding(study: StudyRecord, cfg: AnalysisConfig) -> Finding | None:
    """A warning when a study's nuisance tuning looks too thin for a fair comparison; for
    a study racing stopped, an info saying so (thin on purpose: it was clearly behind)."""
    if study.stopped:
        message = f"Study {study.name} was stopped at half its budget by racing: {study.stopped}."
        return Finding(
            Kind.COMPARISON, Severity.INFO, message, study.name, None, {"stopped": True}
        )
    reasons = []
    n_complete = len(study.complete())
    needed = trials_per_study_needed(study, cfg)
    if n_complete < needed:
        reasons.append(f"only {n_complete} complete trials (fewer than {needed})")
    edges = [f.param for f in boundary(study, cfg)]
    if edges:
        reasons.append(
            f"its objective improving toward a range edge of {', '.join(map(str, edges))}"
        )
    if not reasons:
        return None
    message = (
        f"Study {study.name} has {' and '.join(reasons)}, so its nuisance tuning looks too "
        "thin for a fair comparison."
    )
    suggestion = {"complete_trials": n_complete, "boundary_params": edges}
    return Finding(Kind.COMPARISON, Severity.WARN, message, study.name, None, suggestion)


def comparison(studies: list[StudyRecord], cfg: AnalysisConfig) -> list[Finding]:
    """The isolation view of the scientific values, and whether it is a fair comparison.

    Always (for a non-empty round) one ``info`` finding: each study's best objective, best
    first (a round's studies share metric and direction; the first study's is used), and
    the winner (studies with no complete trial are listed as such). With two or
    more studies, two kinds of ``warn``: the gap between winner and runner-up is within
    twice its noise (:func:`_gap_finding`), so the order is within tuning noise; and, per
    study, nuisance tuning too thin for a fair comparison: fewer than
    ``min_trials_per_param`` per tuned param (plus one) complete trials, or an objective
    improving toward a range edge
    (:func:`~orchestrator.analysis.space_checks.boundary`), since a scientific value may lose
    only because its nuisance params were under-tuned.
    """
    if not studies:
        return []
    findings = [_comparison_info(studies)]
    if len(studies) < 2:
        return findings
    ranked, _ = _isolation_view(studies)
    gap = _gap_finding(ranked)
    if gap is not None:
        findings.append(gap)
    for study in studies:
        thin = _thin_finding(study, cfg)
        if thin is not None:
            findings.append(thin)
    return findings
