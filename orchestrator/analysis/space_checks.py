"""Checks of one study's search space (PLAYBOOK.md 4): boundary, infeasible region, density.

They answer whether the nuisance ranges were right for the study: an optimum at a range's
edge (the range is too small), a region where every trial diverged (the range is too
large, or the training code is broken), too few trials near the best (the space was
under-sampled). Each is a pure function of one :class:`StudyRecord` and the
:class:`AnalysisConfig`, so it is tested on hand-built studies with planted properties; a
check with nothing to say returns an empty list.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from orchestrator.analysis.edge_trend import EdgeTrend, edge_trends
from orchestrator.analysis.measured import IDENTICAL
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.noise import objective_noise
from orchestrator.analysis.outcomes import end_cluster, finished_trials, fmt, objective_values
from orchestrator.analysis.search_space import (
    active_spec,
    is_number,
    is_range,
    widened,
)
from orchestrator.analysis.space_size import points_left
from orchestrator.config.sections import AnalysisConfig
from orchestrator.rounds.check_needs import density_trials
from orchestrator.store.findings import Finding, Kind, Severity

# --------------------------------------------------------------------------- boundary


def _boundary_finding(study: StudyRecord, trend: EdgeTrend, cfg: AnalysisConfig) -> Finding | None:
    """The boundary finding for one param's trend, or None when the evidence is short."""
    if trend.edge is None or trend.p_value >= cfg.boundary_p:
        return None
    path, edge = trend.path, trend.edge
    best = trend.best
    assert best is not None  # a fitted trend has trials
    spec = active_spec(study, path, best.params)
    if not is_range(spec):
        return None
    assert spec is not None
    scale = "log" if spec.get("log") else "linear"
    new = widened(spec, edge, path)
    if trend.vertex is None or not 0.0 <= trend.vertex <= 1.0:
        where = "has its optimum beyond the edge"
    else:
        where = f"has its optimum at {trend.vertex:.0%} of the range"
    message = (
        f"The objective improves toward the {edge} edge of {path}'s {scale} range "
        f"[{fmt(spec['low'])}, {fmt(spec['high'])}] across {_of(trend.trials, study)} "
        f"(trend p = {trend.p_value:.2g}; a quadratic fit {where}; best trial at "
        f"{fmt(best.params[path])}), so the optimum probably lies beyond it: "
        + (
            f"widen it to {fmt(new)} on that side."
            if new != spec[edge]
            else "it cannot be widened on that side (the schema's limits, or a range that "
            "starts at zero keeps its sign)."
        )
    )
    suggestion = {edge: new} if new != spec[edge] else {}
    return Finding(Kind.BOUNDARY, Severity.WARN, message, study.name, path, suggestion)


def _of(fitted: int, study: StudyRecord) -> str:
    complete = len(study.complete())
    return (
        f"all {fitted} complete trials"
        if fitted == complete
        else f"{fitted} of {complete} complete trials (where it applies)"
    )


def boundary(study: StudyRecord, cfg: AnalysisConfig) -> list[Finding]:
    """An optimum beyond the edge of a numeric nuisance range: the range is too small.

    Every complete trial counts (:mod:`~orchestrator.analysis.edge_trend`): the objective's
    ranks are regressed on every numeric param's position in its own scale (log10 for log
    ranges); a param whose linear trend is significant (``p < boundary_p``) and whose
    quadratic fit has its optimum within ``boundary_margin`` of that edge or beyond gives a
    ``warn``: the scientific values are then compared with under-tuned nuisance params. It
    warns rather than blocks because the trials are still valid. The suggestion is
    ``{"low": new}`` or ``{"high": new}`` (see
    :func:`~orchestrator.analysis.search_space.widened`). Silent for an interior optimum, a
    param the objective ignores, and a study with too few complete trials to fit (the
    ``skipped`` findings say so).
    """
    findings = []
    for trend in edge_trends(study, cfg.boundary_margin).values():
        finding = _boundary_finding(study, trend, cfg)
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
    return end_cluster(good, bad, n_bad, min_cluster)


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


_AT_STEP = re.compile(r" at step (\d+)$")


def _reason_and_step(reason: str) -> tuple[str, int | None]:
    """A reason with its ``at step N`` split off: the same divergence at different steps
    (``non-finite val_loss (nan) reported at step 4``) is one reason."""
    match = _AT_STEP.search(reason)
    if match is None:
        return reason, None
    return reason[: match.start()], int(match.group(1))


def _steps(steps: list[int]) -> str:
    """`` at step 4`` or `` at steps 3 to 5``; ``""`` when no step is known."""
    if not steps:
        return ""
    low, high = min(steps), max(steps)
    return f" at step {low}" if low == high else f" at steps {low} to {high}"


def _reason_clause(bad: list[TrialRecord]) -> str:
    """`` (most often 'nan loss', 6 of 9 trials)`` from the infeasible reasons, or ``""``;
    the steps a reason names are gathered (``(all 'non-finite val_loss (nan) reported' at
    steps 3 to 5)``)."""
    split = [_reason_and_step(t.infeasible_reason) for t in bad if t.infeasible_reason]
    reasons = Counter(reason for reason, _ in split)
    if not reasons:
        return ""
    reason, count = reasons.most_common(1)[0]
    at = _steps([step for r, step in split if r == reason and step is not None])
    if len(reasons) == 1:
        return f" ({reason!r}{at})" if count == 1 else f" (all {reason!r}{at})"
    if count == 1:
        return f" ({len(reasons)} different reasons, e.g. {reason!r}{at})"
    return f" (most often {reason!r}{at}, {count} of {len(bad)} trials)"


def _infeasible_severity(fraction: float, cfg: AnalysisConfig) -> Severity:
    """``block`` from ``infeasible_block``, ``warn`` from ``infeasible_warn``, else ``info``."""
    if fraction >= cfg.infeasible_block:
        return Severity.BLOCK
    return Severity.WARN if fraction >= cfg.infeasible_warn else Severity.INFO


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
    if severity == Severity.BLOCK:
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
    return [Finding(Kind.INFEASIBLE, severity, message, study.name, param, suggestion)]


# --------------------------------------------------------------------------- density

# How many noises from the best a neighbour may lie and still share its region: the noise
# is itself estimated from a handful of trials (five residual degrees of freedom at ten
# trials over two params), so a tighter bound fired on a third of well-sampled round_1-like
# studies (tests/analysis_tests/test_density_rates.py).
ALONE_NOISES = 4


def tuned_dimensions(study: StudyRecord) -> int:
    """How many nuisance params the study tunes (each thins the sampling of the others)."""
    return len(study.search_space)


def trials_per_study_needed(study: StudyRecord, cfg: AnalysisConfig) -> int:
    """Complete trials a study needs before its optimum can be located at all:
    ``min_trials_per_param`` per tuned param, plus one."""
    return density_trials(tuned_dimensions(study), cfg.min_trials_per_param)


def _too_few(study: StudyRecord, cfg: AnalysisConfig, left: int | None) -> Finding | None:
    """The first sign: fewer complete trials than the params tuned need (the ask capped at
    the configurations the space has left)."""
    values = objective_values(study)
    needed = trials_per_study_needed(study, cfg)
    if len(values) >= needed:
        return None
    dims = max(tuned_dimensions(study), 1)
    more = max(needed - len(values), 1) if left is None else min(needed - len(values), left)
    what = "no complete trial" if not values else f"only {len(values)} complete trials"
    message = (
        f"{len(finished_trials(study))} finished trials gave {what} over {dims} tuned param"
        f"{'s' if dims > 1 else ''}, fewer than {needed} ({cfg.min_trials_per_param} per "
        f"param plus one): too few to locate the optimum, so run about {more} more trials"
        f"{_left_clause(left)} or tune fewer params."
    )
    return Finding(Kind.DENSITY, Severity.WARN, message, study.name, None, {"more_trials": more})


def _left_clause(left: int | None) -> str:
    return "" if left is None else f" (the space has {left} untried configurations left)"


def density(study: StudyRecord, cfg: AnalysisConfig) -> list[Finding]:
    """Too few trials to trust where the study's optimum is: the round was under-sampled.

    Two signs, either gives ``warn`` with ``{"more_trials": k}``:

    - fewer complete trials than ``min_trials_per_param`` per tuned param plus one (10 trials
      over two params pass; 6 do not): too few to fit, or even bracket, an optimum;
    - the best trial stands alone: no other complete trial lies within ``ALONE_NOISES``
      times the noise of the best value (:mod:`~orchestrator.analysis.noise`: the larger of
      the measured noise and the scatter around a fit), so the best was one lucky hit of a
      narrow region that more trials should map. A noise that is zero up to rounding (a
      deterministic objective on a smooth trend) leaves nothing to map: silent.

    A finite space (a grid, choices, integer ranges: :mod:`~orchestrator.analysis.space_size`)
    whose every configuration was tried gets no ask, and ``k`` is never more than the
    configurations it has left. On well-sampled studies neighbours of the best lie within
    its noise and it is silent; measured in ``tests/analysis_tests/test_density_rates.py``.
    """
    left = points_left(study)
    if left == 0:
        return []
    few = _too_few(study, cfg, left)
    if few is not None:
        return [few]
    values = objective_values(study)
    sigma, source = objective_noise(study)
    scale = max(abs(values[0]), float(np.ptp(values)), 1e-300) if values else 0.0
    if sigma is None or sigma <= IDENTICAL * scale or len(values) < 2:
        return []
    if any(abs(v - values[0]) <= ALONE_NOISES * sigma for v in values[1:]):
        return []
    more = len(values) if left is None else min(len(values), left)
    gap = abs(values[1] - values[0])
    message = (
        f"The best {study.metric} {fmt(values[0])} stands alone: the next best trial is "
        f"{fmt(gap)} away, more than {ALONE_NOISES} times the noise {fmt(sigma)} ({source}), "
        f"so the best region was hit once: run about {more} more trials to map it"
        f"{_left_clause(left)}."
    )
    return [Finding(Kind.DENSITY, Severity.WARN, message, study.name, None, {"more_trials": more})]
