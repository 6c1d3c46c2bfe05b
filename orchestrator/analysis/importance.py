"""Nuisance-param importance (PLAYBOOK.md 4): which tuned params hardly matter.

Every tuned dimension thins the sampling of the others, so a param whose value hardly
changes the objective is better fixed next round. Optuna's importance evaluators need an
Optuna study, while the checks read plain :class:`StudyRecord`s, so this module rebuilds an
in-memory Optuna study from a record (one distribution per param, covering every trial) and
keeps Optuna's logging and warnings out of the analysis output. The round report draws the
same importances (:func:`param_importances`) that the check (:func:`importance`) judges.
"""

from __future__ import annotations

import dataclasses
import math
import random
import warnings
from collections.abc import Callable
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
from orchestrator.analysis.outcomes import fmt
from orchestrator.analysis.search_space import is_integer_spec, is_number, is_range
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.findings import Finding, Kind, Severity

_CATEGORICAL_TYPES = (type(None), bool, int, float, str)


# --------------------------------------------------------------------------- distributions


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
    ranges = [a for a in alternatives if is_range(a)]
    if not ranges or not all(is_number(v) for v in values):
        return None
    low = min([a["low"] for a in ranges] + values)
    high = max([a["high"] for a in ranges] + values)
    log = all(a.get("log") for a in ranges) and low > 0
    steps = {a.get("step") for a in ranges}
    step = steps.pop() if len(steps) == 1 else None
    if step is not None and (log or not _on_grid(values + [low], ranges[0]["low"], step)):
        step = None
    if all(is_integer_spec(a) for a in ranges) and all(isinstance(v, int) for v in values):
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


# --------------------------------------------------------------------------- evaluation


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
        assert t.value is not None  # _importance_trials keeps only trials with a value
        names = [p for p in dists if p in t.params]
        frozen.append(
            optuna.trial.create_trial(
                params={p: t.params[p] for p in names},
                distributions={p: dists[p] for p in names},
                value=float(t.value),
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


# --------------------------------------------------------------------------- the check


SUBSAMPLE = 0.8  # each resample keeps this share of the trials (drawn without replacement)
RESAMPLES = 30  # resamples of the trials for the stability of "negligible"
STABLE_SHARE = 0.9  # negligible in at least this share of them, to be fixed
TRIALS_PER_PARAM = 5  # complete trials per varying param before any param is called negligible


def resampled_importances(
    study: StudyRecord,
    make_evaluator: Callable[[int], BaseImportanceEvaluator] = default_evaluator,
) -> list[dict[str, float]]:
    """The importances of ``RESAMPLES`` subsamples (``SUBSAMPLE`` of the complete trials,
    drawn without replacement; seeded, so the same study gives the same answer)."""
    trials = _importance_trials(study)
    rng = random.Random(0)
    out = []
    for _ in range(RESAMPLES):
        drawn = rng.sample(trials, max(2, round(SUBSAMPLE * len(trials))))
        resample = dataclasses.replace(
            study, trials=[dataclasses.replace(t, number=i) for i, t in enumerate(drawn)]
        )
        out.append(param_importances(resample, min_trials=1, make_evaluator=make_evaluator))
    return out


def negligible_share(resampled: list[dict[str, float]], path: str, threshold: float) -> float:
    """The share of the resamples in which ``path``'s importance is below ``threshold`` (a
    resample where it did not vary counts against: no evidence)."""
    return sum(scores.get(path, 1.0) < threshold for scores in resampled) / len(resampled)


def importance(
    study: StudyRecord,
    cfg: AnalysisConfig,
    *,
    min_trials: int = 10,
    make_evaluator: Callable[[int], BaseImportanceEvaluator] = default_evaluator,
) -> list[Finding]:
    """Nuisance params with negligible importance: candidates for ``fixed`` next round, on
    evidence only.

    Importances come from :func:`param_importances` (normalised, PED-ANOVA by default). A
    param below ``importance_negligible`` gives ``info``. It carries ``{"fixed": v}`` (``v``
    the value of the best trial that has it) only when the evidence holds: at least
    ``TRIALS_PER_PARAM`` complete trials per varying param, and below the threshold in at
    least ``STABLE_SHARE`` of ``RESAMPLES`` subsamples of the trials. Otherwise the
    finding says why it stays tuned: fixing a param that matters loses the configurations
    the next round could still reach, while tuning one that does not only thins the
    sampling a little. Measured on planted truth (``tests/analysis_tests/
    test_importance_rates.py``): a param that matters is fixed in at most 7% of rounds at
    13-40 trials, at the price of rarely fixing one that does not (3-20%). Silent with
    fewer than ``min_trials`` complete trials or fewer than 2 params that vary
    (importance is relative).
    """
    scores = param_importances(study, min_trials=min_trials, make_evaluator=make_evaluator)
    trials = _importance_trials(study)
    negligible = {p: v for p, v in scores.items() if v < cfg.importance_negligible}
    enough = len(trials) >= TRIALS_PER_PARAM * len(scores)
    # the resamples are costly: drawn once, and only when a verdict needs them
    resampled = resampled_importances(study, make_evaluator) if negligible and enough else None
    findings = []
    for path, score in negligible.items():
        message, suggestion = _negligible(path, score, len(scores), trials, cfg, resampled)
        findings.append(
            Finding(Kind.IMPORTANCE, Severity.INFO, message, study.name, path, suggestion)
        )
    return findings


def _negligible(
    path: str,
    score: float,
    n_params: int,
    trials: list[TrialRecord],
    cfg: AnalysisConfig,
    resampled: list[dict[str, float]] | None,
) -> tuple[str, dict[str, Any]]:
    """(message, suggestion) of a param below the threshold: fixed at the best trial's value
    when the evidence holds (enough trials, stable over the resamples), else why it stays."""
    best_value = next(t.params[path] for t in trials if path in t.params)
    message = (
        f"{path} has importance {score:.3f} (below {cfg.importance_negligible:.3g}, "
        f"normalised over {n_params} params from {len(trials)} complete trials)"
    )
    if resampled is None:
        needed = TRIALS_PER_PARAM * n_params
        return message + (
            f", but {len(trials)} trials are too few to call a param negligible (it takes "
            f"{TRIALS_PER_PARAM} per param: {needed}), so it stays tuned."
        ), {}
    share = negligible_share(resampled, path, cfg.importance_negligible)
    if share < STABLE_SHARE:
        return message + (
            f", but only in {share:.0%} of {RESAMPLES} resamples of the trials (it "
            f"takes {STABLE_SHARE:.0%}): not stable, so it stays tuned."
        ), {}
    return message + (
        f", in {share:.0%} of {RESAMPLES} resamples of the trials, so it can be "
        f"fixed at the best trial's {fmt(best_value)} next round."
    ), {"fixed": best_value}
