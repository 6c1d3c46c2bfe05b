"""Checks of one study's search space (PLAYBOOK.md 4): boundary, infeasible region, density.

They answer whether the nuisance ranges were right for the study: an optimum at a range's
edge (the range is too small), a region where every trial diverged (the range is too
large, or the training code is broken), too few trials near the best (the space was
under-sampled). Each is a pure function of one :class:`StudyRecord` and the
:class:`AnalysisConfig`, so it is tested on hand-built studies with planted properties; a
check with nothing to say returns an empty list.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.outcomes import finished_trials, fmt, objective_values
from orchestrator.analysis.search_space import (
    active_spec,
    is_number,
    is_range,
    unit_position,
    widened,
)
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.findings import Finding

# --------------------------------------------------------------------------- boundary


def _edge(u: float, margin: float) -> str | None:
    """``"low"``/``"high"`` when ``u`` is within ``margin`` of that edge (nearer one wins)."""
    near_low, near_high = u <= margin, u >= 1.0 - margin
    if near_low and near_high:
        return "low" if u <= 0.5 else "high"
    return "low" if near_low else "high" if near_high else None


def _boundary_finding(
    study: StudyRecord, path: str, ranked: list[TrialRecord], cfg: AnalysisConfig
) -> Finding | None:
    """The boundary finding for one param, given complete trials that have it, best first."""
    best = ranked[0]
    spec = active_spec(study, path, best.params)
    if not is_range(spec):
        return None
    assert spec is not None
    edge = _edge(unit_position(best.params[path], spec), cfg.boundary_margin)
    if edge is None:
        return None
    top = ranked[: max(cfg.boundary_top_k, 1)]
    near = sum(
        _edge(unit_position(t.params[path], spec), cfg.boundary_margin) == edge for t in top
    )
    scale = "log" if spec.get("log") else "linear"
    new = widened(spec, edge, path)
    message = (
        f"The best {path} {fmt(best.params[path])} is at the {edge} edge of its {scale} range "
        f"[{fmt(spec['low'])}, {fmt(spec['high'])}] ({near} of the top {len(top)} trials "
        f"within {cfg.boundary_margin:.0%} of it), so the range is probably too small: "
        + (
            f"widen it to {fmt(new)} on that side."
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
    ``{"high": new}`` (see :func:`~orchestrator.analysis.search_space.widened`). Silent when
    the best sits in the interior.
    """
    findings = []
    for path in study.search_space:
        ranked = [t for t in study.ranked() if is_number(t.params.get(path))]
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
    good = [t.params[path] for t in study.complete() if is_number(t.params.get(path))]
    bad = [
        t.params[path]
        for t in study.trials
        if t.state == "infeasible" and is_number(t.params.get(path))
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
        if not any(is_range(spec) for spec in alternatives):
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


def _infeasible_severity(fraction: float, cfg: AnalysisConfig) -> str:
    """``block`` from ``infeasible_block``, ``warn`` from ``infeasible_warn``, else ``info``."""
    if fraction >= cfg.infeasible_block:
        return "block"
    return "warn" if fraction >= cfg.infeasible_warn else "info"


def _cluster_clause(cluster: tuple[str, int, str, float, float]) -> tuple[str, dict[str, Any]]:
    """The message clause and the suggestion for a cluster from :func:`infeasible_cluster`."""
    param, count, side, first_bad, last_good = cluster
    sign = ">=" if side == "high" else "<="
    clause = (
        f"; all {count} trials with {param} {sign} {fmt(first_bad)} were infeasible, "
        f"so the range should stop at {fmt(last_good)}, the {side}est value that trained"
    )
    return clause, {"param": param, side: last_good}


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
    finished = finished_trials(study)
    bad = [t for t in finished if t.state == "infeasible"]
    if not bad:
        return []
    fraction = len(bad) / len(finished)
    severity = _infeasible_severity(fraction, cfg)
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
        param = cluster[0]
        clause, trim = _cluster_clause(cluster)
        message += clause
        suggestion.update(trim)
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
    values = objective_values(study)
    if not values:
        return []
    tol = good_tolerance(values, cfg.good_region)
    slack = 1e-12 * max(1.0, abs(values[0]))
    # ranked() holds complete trials only, and every complete trial has a value.
    return [
        t
        for t in study.ranked()
        if t.value is not None and abs(float(t.value) - values[0]) <= tol + slack
    ]


def density(study: StudyRecord, cfg: AnalysisConfig) -> list[Finding]:
    """Too few trials in the good region: the round was under-sampled.

    "Good" is :func:`good_trials`: complete trials with ``|v - best| <= good_region x
    |median - best|``. Fewer than ``min_good_trials`` (the best itself counts) gives ``warn``:
    with one or two trials near the optimum, its location and value are luck, not
    measurement. The suggestion ``{"more_trials": k}`` scales the finished trials so the
    observed good fraction would reach ``min_good_trials``: ``k = ceil(n x min_good / good) -
    n`` (with no complete trial at all, ``k = max(n, min_good_trials)``). Silent when dense.
    """
    n = len(finished_trials(study))
    values = objective_values(study)
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
        f"Only {len(good)} of {len(values)} complete trials landed within {fmt(tol)} of the "
        f"best {study.metric} {fmt(values[0])} ({cfg.good_region:.0%} of the gap to the "
        f"median {fmt(statistics.median(values))}), fewer than {cfg.min_good_trials}: the "
        f"round was under-sampled, so run about {more} more trials or tune fewer params."
    )
    return [Finding("density", "warn", message, study.name, None, {"more_trials": more})]
