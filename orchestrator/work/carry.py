"""Rounds that build on each other: a new study starts from the store's earlier trials.

A trial of an earlier round is carried into a new study when it is a trial the new study
could have run itself: the same trainer and objective, every value outside the new
round's nuisance params the same as the new study's (its start config, fixed values and
scientific point), and every nuisance value inside the new round's range for it. Such a
trial is copied in with Optuna's ``add_trials`` (value, params, constraint, curves, and
``carried_from``: where it came from), so a Bayesian sampler starts informed and no
configuration is paid for twice.

Only adaptive samplers (``tpe``, ``gp``) get carried trials: quasi-random and grid
points do not learn from history, and a carried trial would shift the trial numbers
their sequence is indexed by (the round's studies would no longer get the same points).
Carried trials do not count toward the round's budget, and the round's candidate is a
trial it ran itself (``promotion/candidate.py``): a carried trial was an earlier round's.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from orchestrator.config.experiment import Experiment
from orchestrator.rounds.sampling import ADAPTIVE
from orchestrator.rounds.space import Round
from orchestrator.store.record import StudyAttr, TrialAttr

_CONSTRAINTS = "constraints"  # Optuna's system attribute for a trial's constraint values


def carried_trials(
    rnd: Round,
    start: Experiment,
    point: Mapping[str, Any],
    storage: optuna.storages.BaseStorage,
    into: str,
) -> list[FrozenTrial]:
    """Copies of the store's earlier complete trials that fit the study ``into`` (see the
    module docstring), oldest study first, each configuration once."""
    if rnd.budget.sampler not in ADAPTIVE or not rnd.nuisance:
        return []
    base = start.with_values({**rnd.fixed, **point})
    out: list[FrozenTrial] = []
    seen: set[str] = set()
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        attrs = summary.user_attrs
        if summary.study_name == into or not _same_experiment(attrs, start, summary):
            continue
        earlier = start.with_tree(attrs[StudyAttr.START_CONFIG])
        given = {**attrs[StudyAttr.ROLES].get("fixed", {}), **attrs[StudyAttr.SCIENTIFIC_POINT]}
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if TrialAttr.CARRIED_FROM in trial.user_attrs or trial.value is None:
                continue  # a copy: its original is carried instead
            fitted = _fitted(rnd, base, earlier, given, trial)
            if fitted is None:
                continue
            params, dists = fitted
            key = json.dumps(params, sort_keys=True, default=str)
            if key in seen:
                continue
            seen.add(key)
            out.append(_copy(trial, params, dists, f"{summary.study_name}#{trial.number}"))
    return out


def _same_experiment(
    attrs: Mapping[str, Any], start: Experiment, summary: optuna.study.StudySummary
) -> bool:
    """A round's study (not promotion's) of the same trainer, metric and direction."""
    if StudyAttr.START_CONFIG not in attrs or StudyAttr.ROLES not in attrs:
        return False
    if attrs.get(StudyAttr.TRAINER) not in (None, start.trainer):
        return False
    if attrs.get(StudyAttr.METRIC) != start.metric:
        return False
    return summary.direction.name.lower() == start.direction


def _fitted(
    rnd: Round,
    base: Experiment,
    earlier: Experiment,
    given: Mapping[str, Any],
    trial: FrozenTrial,
) -> tuple[dict[str, Any], dict[str, BaseDistribution]] | None:
    """The trial's values as the new study's params and distributions, or None when the
    trial is not one the new study could have run."""
    try:
        ran = earlier.with_values({**given, **trial.params})
    except (KeyError, TypeError):
        return None  # a path the config does not have
    dists: dict[str, BaseDistribution] = {}

    def stored(path: str, dist: BaseDistribution) -> Any:
        try:
            value = ran.get(path)
        except (KeyError, TypeError):  # an earlier config without this key
            raise _DoesNotFit from None
        if not _inside(dist, value):
            raise _DoesNotFit
        dists[path] = dist
        return value

    try:
        params = rnd.active_values(base, stored)
    except _DoesNotFit:
        return None
    same = base.with_values(params).tree == ran.tree  # every other value agrees
    return (params, dists) if same else None


class _DoesNotFit(Exception):
    """A stored value outside the new round's range for it."""


def _inside(dist: BaseDistribution, value: Any) -> bool:
    if isinstance(value, bool) and not isinstance(dist, CategoricalDistribution):
        return False  # True is 1 to Python, not to an int range
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def _copy(
    trial: FrozenTrial, params: dict[str, Any], dists: dict[str, BaseDistribution], origin: str
) -> FrozenTrial:
    system = {k: v for k, v in trial.system_attrs.items() if k == _CONSTRAINTS}
    return optuna.trial.create_trial(
        params=params,
        distributions=dists,
        value=trial.value,
        intermediate_values=dict(trial.intermediate_values),
        user_attrs={**trial.user_attrs, TrialAttr.CARRIED_FROM: origin},
        system_attrs=system,
    )


def carry_into(
    study: optuna.Study,
    rnd: Round,
    start: Experiment,
    point: Mapping[str, Any],
    storage: optuna.storages.BaseStorage,
) -> int:
    """Carry the fitting earlier trials into a study that has none yet; how many."""
    trials = carried_trials(rnd, start, point, storage, study.study_name)
    if trials:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.add_trials(trials)
    study.set_user_attr(StudyAttr.CARRIED, len(trials))
    return len(trials)


def carried_count(study: optuna.Study) -> int:
    """How many of the study's trials were carried in, counted on the trials themselves (a
    kill between ``add_trials`` and the study's ``carried`` attribute loses nothing)."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sum(TrialAttr.CARRIED_FROM in t.user_attrs for t in trials)
