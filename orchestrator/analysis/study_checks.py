"""Checks on a round's studies (PLAYBOOK.md 4): search-space boundary, infeasible trials,
sampling density, step budget, the comparison of scientific values, and parameter importance.

Every check is a pure function from :class:`StudyRecord`s (built from the store by
``load.py``) and an :class:`AnalysisConfig` to a list of :class:`Finding`s, so each is tested
on hand-built studies with planted properties, without training. A check that has nothing to
say returns an empty list; ``run_study_checks`` runs them all.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.importance import BaseImportanceEvaluator, PedAnovaImportanceEvaluator

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.findings import Finding, by_severity

_MISSING = object()
_FINISHED = ("complete", "infeasible")
_CATEGORICAL_TYPES = (type(None), bool, int, float, str)


# --------------------------------------------------------------------------- small helpers


def _fmt(value: Any) -> str:
    """Numbers with three significant digits (``0.000123``, ``1e-05``); anything else as is."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _tidy(value: float) -> float:
    """Drop float noise from computed bounds (``1e-05 / 10`` is ``1.0000000000000002e-06``)."""
    return float(f"{value:.12g}")


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool): something that has a position on an axis."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _is_range(spec: dict[str, Any] | None) -> bool:
    """Whether a search-space alternative is a numeric range (``low`` < ``high``)."""
    if spec is None or "choices" in spec:
        return False
    low, high = spec.get("low"), spec.get("high")
    if not (_is_number(low) and _is_number(high)) or high <= low:
        return False
    return not (spec.get("log") and low <= 0)


def _is_integer_spec(spec: dict[str, Any]) -> bool:
    """Integer ranges (ints for both bounds and the step) get integer suggestions."""
    step = spec.get("step")
    ints = [spec["low"], spec["high"]] + ([step] if step is not None else [])
    return all(isinstance(x, int) and not isinstance(x, bool) for x in ints)


def _when_holds(spec: dict[str, Any], point: dict[str, Any], params: dict[str, Any]) -> bool:
    """Every ``when`` pair equals the study's scientific point or the trial's own params."""
    for path, value in (spec.get("when") or {}).items():
        if point.get(path, _MISSING) != value and params.get(path, _MISSING) != value:
            return False
    return True


def active_spec(study: StudyRecord, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The search-space alternative of ``path`` that applied to a trial with ``params``.

    A param with several alternatives (ranges per optimizer, say) is judged against the one
    whose ``when`` holds for the study's point and the trial, not against a range that was
    never sampled. None when no alternative applies.
    """
    for spec in study.search_space.get(path, []):
        if _when_holds(spec, study.point, params):
            return spec
    return None


def _unit(value: float, spec: dict[str, Any]) -> float:
    """Position of ``value`` in ``[low, high]``, in the param's own scale (log10 for log)."""
    low, high, value = float(spec["low"]), float(spec["high"]), float(value)
    if spec.get("log"):
        if value <= 0:
            return 0.0
        low, high, value = math.log10(low), math.log10(high), math.log10(value)
    return min(max((value - low) / (high - low), 0.0), 1.0)


def _finished(study: StudyRecord) -> list[TrialRecord]:
    """Trials that ran to an outcome: complete (feasible) or infeasible."""
    return [t for t in study.trials if t.state in _FINISHED]


def _values(study: StudyRecord) -> list[float]:
    """Objective values of the complete trials, best first."""
    return [float(t.value) for t in study.ranked() if t.value is not None]


# --------------------------------------------------------------------------- boundary


def _edge(u: float, margin: float) -> str | None:
    """``"low"``/``"high"`` when ``u`` is within ``margin`` of that edge (nearer one wins)."""
    near_low, near_high = u <= margin, u >= 1.0 - margin
    if near_low and near_high:
        return "low" if u <= 0.5 else "high"
    return "low" if near_low else "high" if near_high else None


def _widened(spec: dict[str, Any], edge: str, path: str | None = None) -> float:
    """The bound of ``spec`` on ``edge`` pushed outwards, kept inside the schema's limits.

    Log ranges: one decade (low / 10, high x 10). Linear ranges: half the width (rounded up to
    the step when there is one). Integers are rounded outwards, and a log integer low stays at
    least 1. When the schema rejects the pushed value (a momentum of 1.2), the largest
    accepted value towards it is proposed instead (found by bisection), so a next-round
    draft built from the suggestion stays valid.
    """
    new = _pushed(spec, edge)
    if path is None or _accepted(path, new):
        return new
    bound = float(spec[edge])
    ok, bad = bound, float(new)
    for _ in range(30):
        mid = (ok + bad) / 2.0
        ok, bad = (mid, bad) if _accepted(path, mid) else (ok, mid)
    # Step back a little from the limit so the rounded value is still accepted (0.999, not 1).
    candidate = float(f"{bound + 0.95 * (ok - bound):.3g}")
    return candidate if _accepted(path, candidate) else ok


def _accepted(path: str, value: float) -> bool:
    """Whether the experiment schema accepts ``value`` at ``path`` (all else at defaults)."""
    from orchestrator.config.params import PARAM_TYPES, check_type, with_values
    from orchestrator.exceptions import ConfigError
    from orchestrator.train.config import ExperimentConfig, validate_experiment

    if path not in PARAM_TYPES:
        return True
    try:
        typed = check_type(path, path, value)
        validate_experiment(with_values(ExperimentConfig(), {path: typed}))
    except ConfigError:
        return False
    return True


def _pushed(spec: dict[str, Any], edge: str) -> float:
    """The bound pushed outwards with no regard for limits (see ``_widened``)."""
    low, high = spec["low"], spec["high"]
    if spec.get("log"):
        new = low / 10.0 if edge == "low" else high * 10.0
    else:
        half = (high - low) / 2.0
        step = spec.get("step")
        if step:
            half = math.ceil(half / step - 1e-9) * step
        new = low - half if edge == "low" else high + half
    if _is_integer_spec(spec):
        rounded = math.floor(new) if edge == "low" else math.ceil(new)
        return max(rounded, 1) if spec.get("log") else rounded
    return _tidy(new)


def _boundary_finding(
    study: StudyRecord, path: str, ranked: list[TrialRecord], cfg: AnalysisConfig
) -> Finding | None:
    """The boundary finding for one param, given complete trials that have it, best first."""
    best = ranked[0]
    spec = active_spec(study, path, best.params)
    if not _is_range(spec):
        return None
    assert spec is not None
    edge = _edge(_unit(best.params[path], spec), cfg.boundary_margin)
    if edge is None:
        return None
    top = ranked[: max(cfg.boundary_top_k, 1)]
    near = sum(_edge(_unit(t.params[path], spec), cfg.boundary_margin) == edge for t in top)
    scale = "log" if spec.get("log") else "linear"
    new = _widened(spec, edge, path)
    message = (
        f"The best {path} {_fmt(best.params[path])} is at the {edge} edge of its {scale} range "
        f"[{_fmt(spec['low'])}, {_fmt(spec['high'])}] ({near} of the top {len(top)} trials "
        f"within {cfg.boundary_margin:.0%} of it), so the range is probably too small: "
        + (
            f"widen it to {_fmt(new)} on that side."
            if new != spec[edge]
            else "it cannot be widened on that side within the schema's limits."
        )
    )
    suggestion = {edge: new} if new != spec[edge] else {}
    return Finding("boundary", "warn", message, study.name, path, suggestion)


def boundary(study: StudyRecord, cfg: AnalysisConfig) -> list[Finding]:
    """Best trials at the edge of a numeric nuisance range: the range is too small.

    For each numeric nuisance param (an alternative with ``low``/``high``; with several
    alternatives, the one whose ``when`` holds for the study's point and the best trial), the
    complete trials that have the param are ranked; the best one's position ``u`` in
    ``[0, 1]`` is measured in the param's own scale (log10 for log ranges). ``u <=
    boundary_margin`` (or ``>= 1 - boundary_margin``) gives a ``warn``: the optimum may lie
    outside the range, so the comparison of scientific values is made with under-tuned
    nuisance params. It warns rather than blocks because the trials are still valid. The
    message counts how many of the top ``boundary_top_k`` trials sit at the same edge (several
    means the signal is not one lucky trial); the suggestion is ``{"low": new}`` or
    ``{"high": new}`` (see :func:`_widened`). Silent when the best sits in the interior.
    """
    findings = []
    for path in study.search_space:
        ranked = [t for t in study.ranked() if _is_number(t.params.get(path))]
        if ranked:
            finding = _boundary_finding(study, path, ranked, cfg)
            if finding is not None:
                findings.append(finding)
    return findings


# --------------------------------------------------------------------------- infeasible


def _cluster_on(
    study: StudyRecord, path: str, n_bad: int, min_cluster: int
) -> tuple[int, str, float, float] | None:
    """The infeasible run beyond the feasible trials of ``path``, on its larger side.

    Returns ``(count, side, first_bad, last_good)``: ``count`` infeasible trials lie beyond
    every feasible value (above the largest when ``side == "high"``), ``first_bad`` is the
    nearest of them and ``last_good`` the extreme feasible value. None when neither side
    holds at least ``max(min_cluster, half of all infeasible trials)``.
    """
    good = [t.params[path] for t in study.complete() if _is_number(t.params.get(path))]
    bad = [
        t.params[path]
        for t in study.trials
        if t.state == "infeasible" and _is_number(t.params.get(path))
    ]
    if not good or not bad:
        return None
    above = [v for v in bad if v > max(good)]
    below = [v for v in bad if v < min(good)]
    needed = max(min_cluster, math.ceil(n_bad / 2))
    if len(above) >= len(below) and len(above) >= needed:
        return len(above), "high", min(above), max(good)
    if len(below) >= needed:
        return len(below), "low", max(below), min(good)
    return None


def infeasible_cluster(
    study: StudyRecord, *, min_cluster: int = 2
) -> tuple[str, int, str, float, float] | None:
    """Where a study's infeasible trials cluster: ``(param, count, side, first_bad, last_good)``.

    For each numeric nuisance range, the infeasible trials beyond the largest (or below the
    smallest) feasible value form a region where every trial failed. The param whose region
    holds the most infeasible trials wins (ties: search-space order, high side first), if it
    holds at least ``min_cluster`` of them and at least half of all infeasible trials: a
    region with one or two stray failures is not evidence of a diverging region.
    """
    n_bad = sum(t.state == "infeasible" for t in study.trials)
    best: tuple[str, int, str, float, float] | None = None
    for path, alternatives in study.search_space.items():
        if not any(_is_range(spec) for spec in alternatives):
            continue
        found = _cluster_on(study, path, n_bad, min_cluster)
        if found is not None and (best is None or found[0] > best[1]):
            best = (path, *found)
    return best


def _reason_clause(bad: list[TrialRecord]) -> str:
    """`` (most often 'nan loss', 6 trials)`` from the trials' infeasible reasons, or ``""``."""
    reasons = Counter(t.infeasible_reason for t in bad if t.infeasible_reason)
    if not reasons:
        return ""
    reason, count = reasons.most_common(1)[0]
    return f" (most often {reason!r}, {count} trials)"


def infeasible(study: StudyRecord, cfg: AnalysisConfig, *, min_cluster: int = 2) -> list[Finding]:
    """The fraction of infeasible trials, and the region they cluster in.

    ``fraction = infeasible / (complete + infeasible)`` (pruned, failed and running trials
    are not counted: they say nothing about the search space). ``fraction >=
    infeasible_block`` gives ``block``: when nearly everything diverges the likelier cause is
    a bug in the training code, not the ranges, and promoting from such a study is unsafe;
    ``>= infeasible_warn`` gives ``warn``; any infeasible trial at all gives ``info`` (they
    are expected near the top of a learning-rate range). With a cluster (see
    :func:`infeasible_cluster`), the message says e.g. "all 7 trials with optimizer.lr >=
    0.52 were infeasible" and the suggestion ``{"param": p, "high": last_good}`` (or
    ``"low"``) keeps the range within the values known to train. A block also suggests
    ``{"check_training_code": True}``. Silent with no infeasible trial.
    """
    finished = _finished(study)
    bad = [t for t in finished if t.state == "infeasible"]
    if not bad:
        return []
    fraction = len(bad) / len(finished)
    severity = (
        "block"
        if fraction >= cfg.infeasible_block
        else "warn"
        if fraction >= cfg.infeasible_warn
        else "info"
    )
    message = (
        f"{len(bad)} of {len(finished)} finished trials ({fraction:.0%}) were infeasible"
        f"{_reason_clause(bad)}"
    )
    suggestion: dict[str, Any] = {}
    if severity == "block":
        message += (
            f", at least the {cfg.infeasible_block:.0%} that points to a bug: suspect the "
            "training code (data, loss, initialisation) before trusting or re-tuning this study"
        )
        suggestion["check_training_code"] = True
    param = None
    cluster = infeasible_cluster(study, min_cluster=min_cluster)
    if cluster is not None:
        param, count, side, first_bad, last_good = cluster
        sign = ">=" if side == "high" else "<="
        message += (
            f"; all {count} trials with {param} {sign} {_fmt(first_bad)} were infeasible, "
            f"so the range should stop at {_fmt(last_good)}, the {side}est value that trained"
        )
        suggestion.update({"param": param, side: last_good})
    message += "."
    return [Finding("infeasible", severity, message, study.name, param, suggestion)]


# --------------------------------------------------------------------------- density


def good_tolerance(values: Sequence[float], good_region: float) -> float:
    """How far from the best a value may be and still count as "near the best".

    ``values`` are the complete trials' objective values, best first; the tolerance is
    ``good_region x |median - best|``. Relative to ``|best|`` would be wrong for bounded
    metrics (for an accuracy of 0.98, 5% admits 0.93; for an error of 0.01 it admits only
    0.0005) and meaningless near zero; relative to the whole observed range would let one
    exploding-but-finite trial make everything "good". The best-to-median gap is the typical
    spread the search produced, and robust to outliers.
    """
    if not values:
        return 0.0
    return good_region * abs(statistics.median(values) - values[0])


def good_trials(study: StudyRecord, cfg: AnalysisConfig) -> list[TrialRecord]:
    """Complete trials within :func:`good_tolerance` of the study's best value, best first."""
    ranked = study.ranked()
    values = _values(study)
    if not values:
        return []
    tol = good_tolerance(values, cfg.good_region)
    slack = 1e-12 * max(1.0, abs(values[0]))
    return [t for t in ranked if abs(float(t.value) - values[0]) <= tol + slack]  # type: ignore[arg-type]


def density(study: StudyRecord, cfg: AnalysisConfig) -> list[Finding]:
    """Too few trials in the good region: the round was under-sampled.

    "Good" is :func:`good_trials`: complete trials with ``|v - best| <= good_region x
    |median - best|``. Fewer than ``min_good_trials`` (the best itself counts) gives ``warn``:
    with one or two trials near the optimum, its location and value are luck, not
    measurement. The suggestion ``{"more_trials": k}`` scales the finished trials so the
    observed good fraction would reach ``min_good_trials``: ``k = ceil(n x min_good / good) -
    n`` (with no complete trial at all, ``k = max(n, min_good_trials)``). Silent when dense.
    """
    n = len(_finished(study))
    values = _values(study)
    good = good_trials(study, cfg)
    if len(good) >= cfg.min_good_trials:
        return []
    if not good:
        more = max(n, cfg.min_good_trials)
        message = (
            f"None of the {n} finished trials completed, so there is no good region to "
            f"measure: run at least {more} more trials."
        )
        return [Finding("density", "warn", message, study.name, None, {"more_trials": more})]
    more = max(math.ceil(n * cfg.min_good_trials / len(good)) - n, 1)
    tol = good_tolerance(values, cfg.good_region)
    message = (
        f"Only {len(good)} of {len(values)} complete trials landed within {_fmt(tol)} of the "
        f"best {study.metric} {_fmt(values[0])} ({cfg.good_region:.0%} of the gap to the "
        f"median {_fmt(statistics.median(values))}), fewer than {cfg.min_good_trials}: the "
        f"round was under-sampled, so run about {more} more trials or tune fewer params."
    )
    return [Finding("density", "warn", message, study.name, None, {"more_trials": more})]


# --------------------------------------------------------------------------- step budget


def _top_steps(study: StudyRecord, top_k: int) -> list[tuple[int, int]]:
    """``(best_step, max_steps)`` of the study's top ``top_k`` complete trials that have both."""
    steps = [
        (t.best_step, t.max_steps)
        for t in study.ranked()
        if t.best_step is not None and t.max_steps
    ]
    return steps[:top_k]  # type: ignore[return-value]


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
    the rule: with mixed positions, or no trial with step information, it is silent.
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
        return [Finding("step_budget", "warn", message, None, None, {"train.steps": new})]
    if all(f >= 1.0 - cfg.step_budget_late for f in fractions):
        new = 2 * budget
        message = (
            f"{where} is in the last {cfg.step_budget_late:.0%} of "
            f"training (earliest at {min(fractions):.0%} of {budget} steps), so a longer "
            f"budget such as {new} steps may help."
        )
        return [Finding("step_budget", "info", message, None, None, {"train.steps": new})]
    return []


# --------------------------------------------------------------------------- comparison


def _isolation_view(
    studies: list[StudyRecord],
) -> tuple[list[tuple[StudyRecord, float]], list[StudyRecord]]:
    """Studies with their best value, best first, and the studies with no complete trial."""
    with_best = [(s, _values(s)[0]) for s in studies if _values(s)]
    without = [s for s in studies if not _values(s)]
    maximize = studies[0].maximize
    with_best.sort(key=lambda pair: pair[1], reverse=maximize)
    return with_best, without


def _comparison_info(studies: list[StudyRecord]) -> Finding:
    """The isolation view: each scientific value's best objective, and the winner."""
    ranked, without = _isolation_view(studies)
    metric = studies[0].metric
    parts = [f"{s.name} {_fmt(v)}" for s, v in ranked]
    parts += [f"{s.name} no complete trial" for s in without]
    winner = ranked[0][0].name if ranked else None
    tail = f"; winner {winner}" if winner else "; no winner"
    message = f"Best {metric} per study (isolation view): {', '.join(parts)}{tail}."
    suggestion = {"best": {s.name: v for s, v in ranked}, "winner": winner}
    return Finding("comparison", "info", message, None, None, suggestion)


def _gap_finding(ranked: list[tuple[StudyRecord, float]], spread_top: int) -> Finding | None:
    """A warning when winner and runner-up differ by no more than the winner's near-best spread."""
    if len(ranked) < 2:
        return None
    (winner, best), (runner, second) = ranked[0], ranked[1]
    top = _values(winner)[:spread_top]
    if len(top) < 2:
        return None
    spread = statistics.stdev(top)
    gap = abs(best - second)
    if gap > spread:
        return None
    message = (
        f"The gap {_fmt(gap)} between winner {winner.name} ({_fmt(best)}) and runner-up "
        f"{runner.name} ({_fmt(second)}) is within the spread {_fmt(spread)} of "
        f"{winner.name}'s top {len(top)} trials, so the comparison is within tuning noise."
    )
    suggestion = {"winner": winner.name, "runner_up": runner.name, "gap": gap, "spread": spread}
    return Finding("comparison", "warn", message, winner.name, None, suggestion)


def _thin_finding(study: StudyRecord, cfg: AnalysisConfig) -> Finding | None:
    """A warning when a study's nuisance tuning looks too thin for a fair comparison."""
    reasons = []
    n_complete = len(study.complete())
    if n_complete < cfg.min_good_trials:
        reasons.append(f"only {n_complete} complete trials (fewer than {cfg.min_good_trials})")
    edges = [f.param for f in boundary(study, cfg)]
    if edges:
        reasons.append(f"its best trial at a range edge of {', '.join(map(str, edges))}")
    if not reasons:
        return None
    message = (
        f"Study {study.name} has {' and '.join(reasons)}, so its nuisance tuning looks too "
        "thin for a fair comparison."
    )
    suggestion = {"complete_trials": n_complete, "boundary_params": edges}
    return Finding("comparison", "warn", message, study.name, None, suggestion)


def comparison(
    studies: list[StudyRecord], cfg: AnalysisConfig, *, spread_top: int = 3
) -> list[Finding]:
    """The isolation view of the scientific values, and whether it is a fair comparison.

    Always (for a non-empty round) one ``info`` finding: each study's best objective, best
    first (a round's studies share metric and direction; the first study's is used), and
    the winner (studies with no complete trial are listed as such). With two or
    more studies, two kinds of ``warn``: the gap between winner and runner-up is at most the
    spread of the winner's near-best trials (sample std of its top ``spread_top`` values; the
    check is skipped when the winner has fewer than 2), so the order is within tuning noise;
    and, per study, nuisance tuning too thin for a fair comparison: fewer than
    ``min_good_trials`` complete trials, or a best at a range edge (:func:`boundary`), since a
    scientific value may lose only because its nuisance params were under-tuned.
    """
    if not studies:
        return []
    findings = [_comparison_info(studies)]
    if len(studies) < 2:
        return findings
    ranked, _ = _isolation_view(studies)
    gap = _gap_finding(ranked, spread_top)
    if gap is not None:
        findings.append(gap)
    for study in studies:
        thin = _thin_finding(study, cfg)
        if thin is not None:
            findings.append(thin)
    return findings


# --------------------------------------------------------------------------- importance


def _on_grid(values: list[float], low: float, step: float) -> bool:
    """Whether every value is ``low + k x step`` (within float error)."""
    return all(abs((v - low) / step - round((v - low) / step)) < 1e-6 for v in values)


def _numeric_distribution(
    alternatives: list[dict[str, Any]], values: list[Any]
) -> BaseDistribution | None:
    """One distribution covering every range alternative and every observed value.

    Importance is about the param as a whole, so alternatives are merged (lowest low,
    highest high; log only if all are log and every value is positive) and widened to the
    observed values, so no trial is rejected. The step is kept only when it is common to all
    alternatives and every value is on its grid; integers stay integers.
    """
    ranges = [a for a in alternatives if _is_range(a)]
    if not ranges or not all(_is_number(v) for v in values):
        return None
    low = min([a["low"] for a in ranges] + values)
    high = max([a["high"] for a in ranges] + values)
    log = all(a.get("log") for a in ranges) and low > 0
    steps = {a.get("step") for a in ranges}
    step = steps.pop() if len(steps) == 1 else None
    if step is not None and (log or not _on_grid(values + [low], ranges[0]["low"], step)):
        step = None
    if all(_is_integer_spec(a) for a in ranges) and all(isinstance(v, int) for v in values):
        int_step = int(step) if step is not None and not log else 1
        return IntDistribution(int(low), int(high), log=log, step=int_step)
    return FloatDistribution(float(low), float(high), log=log, step=step)


def _distribution(
    alternatives: list[dict[str, Any]], values: list[Any]
) -> BaseDistribution | None:
    """The Optuna distribution of a param for importance, or None when it cannot vary."""
    if len(set(map(repr, values))) < 2:
        return None
    if any("choices" in a for a in alternatives):
        if not all(isinstance(v, _CATEGORICAL_TYPES) for v in values):
            return None
        choices = [c for a in alternatives for c in a.get("choices", [])] + values
        if not all(isinstance(c, _CATEGORICAL_TYPES) for c in choices):
            return None
        return CategoricalDistribution(list(dict.fromkeys(choices)))
    dist = _numeric_distribution(alternatives, values)
    return None if dist is None or dist.single() else dist


def _optuna_study(
    study: StudyRecord, trials: list[TrialRecord], dists: dict[str, BaseDistribution]
) -> optuna.Study:
    """An in-memory Optuna study holding the complete trials with their nuisance params."""
    opt = optuna.create_study(
        direction="maximize" if study.maximize else "minimize",
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    frozen = []
    for t in trials:
        names = [p for p in dists if p in t.params]
        frozen.append(
            optuna.trial.create_trial(
                params={p: t.params[p] for p in names},
                distributions={p: dists[p] for p in names},
                value=float(t.value),  # type: ignore[arg-type]
            )
        )
    opt.add_trials(frozen)
    return opt


def _importances(
    study: StudyRecord,
    trials: list[TrialRecord],
    dists: dict[str, BaseDistribution],
    evaluator: BaseImportanceEvaluator,
) -> dict[str, float]:
    """Normalised importances, with Optuna's logging and warnings kept out of the output."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt = _optuna_study(study, trials, dists)
            return optuna.importance.get_param_importances(
                opt, evaluator=evaluator, params=list(dists)
            )
    finally:
        optuna.logging.set_verbosity(verbosity)


def default_evaluator(n_trials: int) -> BaseImportanceEvaluator:
    """PED-ANOVA, with the top quantile holding about 5 trials (10% to 50%).

    fANOVA (Optuna's ``FanovaImportanceEvaluator``) needs scikit-learn, which is not a
    dependency of this project; PED-ANOVA (Optuna's default) is deterministic and fast.
    Its documentation recommends at least 5 trials in the top quantile, hence
    ``quantile = clamp(5 / n, 0.1, 0.5)``.
    """
    return PedAnovaImportanceEvaluator(target_quantile=min(0.5, max(0.1, 5.0 / n_trials)))


def param_importances(
    study: StudyRecord,
    *,
    min_trials: int = 10,
    make_evaluator: Callable[[int], BaseImportanceEvaluator] = default_evaluator,
) -> dict[str, float]:
    """Normalised importances (they sum to 1) of the study's nuisance params that vary.

    Public so the round report can draw them as well as :func:`importance` judge them.
    Builds an in-memory Optuna study from the complete trials (distributions from the search
    space, see :func:`_distribution`) and scores the params with
    ``make_evaluator(n_trials)`` (PED-ANOVA by default, see :func:`default_evaluator`).
    Empty with fewer than ``min_trials`` complete trials or fewer than 2 params that vary
    (importance is relative, so one param is always 1).
    """
    trials = _importance_trials(study)
    if len(trials) < min_trials:
        return {}
    dists = _importance_distributions(study, trials)
    if len(dists) < 2:
        return {}
    return dict(_importances(study, trials, dists, make_evaluator(len(trials))))


def _importance_trials(study: StudyRecord) -> list[TrialRecord]:
    """Complete trials with a finite objective, best first."""
    return [t for t in study.ranked() if t.value is not None and math.isfinite(t.value)]


def _importance_distributions(
    study: StudyRecord, trials: list[TrialRecord]
) -> dict[str, BaseDistribution]:
    """The distribution of every nuisance param that varies over ``trials``."""
    dists = {}
    for path, alternatives in study.search_space.items():
        values = [t.params[path] for t in trials if path in t.params]
        dist = _distribution(alternatives, values)
        if dist is not None:
            dists[path] = dist
    return dists


def importance(
    study: StudyRecord,
    cfg: AnalysisConfig,
    *,
    min_trials: int = 10,
    make_evaluator: Callable[[int], BaseImportanceEvaluator] = default_evaluator,
) -> list[Finding]:
    """Nuisance params with negligible importance: candidates for ``fixed`` next round.

    Importances come from :func:`param_importances` (normalised, PED-ANOVA by default). A
    param below ``importance_negligible`` gives ``info`` with ``{"fixed": v}``, ``v`` the
    value of the best trial that has it: every tuned dimension thins the sampling of the
    others, so a param that does not matter is better fixed. Only ``info``: importance from
    a few dozen trials is an estimate. Silent with fewer than ``min_trials`` complete trials
    or fewer than 2 params that vary (importance is relative, so one param is always 1).
    """
    scores = param_importances(study, min_trials=min_trials, make_evaluator=make_evaluator)
    if not scores:
        return []
    trials = _importance_trials(study)
    findings = []
    for path, score in scores.items():
        if score >= cfg.importance_negligible:
            continue
        best_value = next(t.params[path] for t in trials if path in t.params)
        message = (
            f"{path} has importance {score:.3f} (below {cfg.importance_negligible:.3g}, "
            f"normalised over {len(scores)} params from {len(trials)} complete trials), so it "
            f"can be fixed at the best trial's {_fmt(best_value)} next round."
        )
        findings.append(
            Finding("importance", "info", message, study.name, path, {"fixed": best_value})
        )
    return findings


# --------------------------------------------------------------------------- all checks


def run_study_checks(studies: list[StudyRecord], cfg: AnalysisConfig) -> list[Finding]:
    """Every check of this module on a round's studies, most severe first.

    Per study: boundary, infeasible, density, importance; then, across the round, the step
    budget and the comparison of scientific values.
    """
    findings: list[Finding] = []
    for study in studies:
        for check in (boundary, infeasible, density, importance):
            findings.extend(check(study, cfg))
    findings.extend(step_budget(studies, cfg))
    findings.extend(comparison(studies, cfg))
    return by_severity(findings)
