"""A round's studies in the store: created or resumed with their provenance, and summarised.

One study per scientific point, stamped with the round's provenance (roles, search space,
sampler, the config it started from). A study that exists but was started from another
config is refused: mixing trials of two starting points would make the comparison
meaningless. Summaries are read from the store, so they include other workers' trials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from orchestrator.config.experiment import Experiment
from orchestrator.config.trainer_settings import selection_hint
from orchestrator.exceptions import ConfigError
from orchestrator.rounds.identity import legacy_identity, round_identity
from orchestrator.rounds.space import Round
from orchestrator.store.record import (
    Direction,
    StudyAttr,
    TrialAttr,
    config_hash,
    feasible_value,
    legacy_config_hash,
    promotion_study_name,
    trial_outcome,
)
from orchestrator.work.carry import carry_into
from orchestrator.work.objective import Outcome

Study = tuple[dict[str, Any], optuna.Study]  # a scientific point and its study


@dataclass
class StudySummary:
    """Where one study stands: counts, and its best feasible trial."""

    name: str
    point: dict[str, Any]
    budget: int
    finished: int = 0
    infeasible: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    carried: int = 0  # earlier rounds' trials it started from (work/carry.py)
    stopped: str | None = None  # racing stopped it early: why (stages/racing.py)
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_number: int | None = None
    # compute spent, from the stored results (summarise): training length and wall time
    steps: int = 0  # in the trainer's length unit (trainer.length_key)
    seconds: float = 0.0
    saved_steps: int = 0  # what the pruned trials did not run of their length

    def account(self, outcome: Outcome | None, direction: Direction) -> None:
        """Count a trial this worker just ran, without reading the store again."""
        if outcome is None or outcome.kind == "failed":
            self.failed += 1
            return
        self.finished += 1
        self.infeasible += outcome.kind == "infeasible"
        self.pruned += outcome.kind == "pruned"
        if outcome.kind == "complete" and outcome.value is not None:
            self._offer(outcome.value, outcome.params, outcome.number, direction)

    def _offer(
        self, value: float, params: dict[str, Any], number: int | None, direction: Direction
    ) -> None:
        if direction.better(value, self.best_value):
            self.best_value, self.best_params, self.best_number = value, dict(params), number


def provenance(rnd: Round, start: Experiment, point: Mapping[str, Any]) -> dict[str, Any]:
    """The study attributes that say where its trials came from."""
    return {
        StudyAttr.ROUND: rnd.name,
        StudyAttr.GOAL: rnd.goal,
        StudyAttr.SCIENTIFIC_POINT: dict(point),
        StudyAttr.ROLES: rnd.roles(),
        StudyAttr.SEARCH_SPACE: {p: [s.describe() for s in a] for p, a in rnd.nuisance.items()},
        StudyAttr.SAMPLER: rnd.budget.sampler,
        StudyAttr.PRUNER: rnd.budget.pruner,
        StudyAttr.SEED: rnd.budget.seed,
        StudyAttr.TRIALS_PER_STUDY: rnd.trials_per_study,
        StudyAttr.START_FROM: rnd.start_from,
        StudyAttr.START_CONFIG_HASH: config_hash(start),
        StudyAttr.START_CONFIG: dict(start.tree),
        StudyAttr.METRIC: start.metric,
        StudyAttr.TRAINER: start.trainer,
        StudyAttr.IDENTITY: round_identity(rnd, start),
    }


def open_studies(
    rnd: Round, start: Experiment, storage: optuna.storages.BaseStorage
) -> list[Study]:
    """Create or load one study per scientific point, stamped with the round's provenance."""
    digest = config_hash(start)
    out = []
    for point in rnd.points():
        name = rnd.study_name(point)
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            sampler=rnd.sampler(),
            pruner=rnd.pruner(start, point),
            direction=Direction(start.direction).value,
            load_if_exists=True,
        )
        check_same_start(study, start, digest)
        if StudyAttr.CARRIED not in study.user_attrs and not study.get_trials(deepcopy=False):
            carry_into(study, rnd, start, point, storage)  # a new study: earlier trials first
        for key, value in provenance(rnd, start, point).items():
            if study.user_attrs.get(key) != value:
                study.set_user_attr(key, value)
        out.append((point, study))
    return out


def check_same_start(study: optuna.Study, start: Experiment, digest: str) -> None:
    """A study is finished with the trainer and start config it began with; one ConfigError.

    A store of an earlier version recorded no trainer and hashed the values alone: its
    studies are resumed when the values match (the trainer is then recorded)."""
    name, attrs = study.study_name, study.user_attrs
    trainer = attrs.get(StudyAttr.TRAINER)
    if trainer is not None and trainer != start.trainer:
        raise ConfigError(
            "trainer._target_",
            f"study {name} was started with trainer {trainer}, not {start.trainer}; finish it "
            f"with {selection_hint(trainer)}, or name the round anew (round.name=...)",
        )
    previous = attrs.get(StudyAttr.START_CONFIG_HASH)
    legacy = trainer is None and previous == legacy_config_hash(start.tree)
    if previous is not None and previous != digest and not legacy:
        raise ConfigError(
            "round.start_from",
            f"study {name} was started from another config (hash {previous}, now {digest});"
            " finish it with the same starting config, or name the round anew",
        )


def recorded_start(
    storage: optuna.storages.BaseStorage, round_name: str
) -> tuple[dict[str, Any], str | None, int | None] | None:
    """The start config (tree), trainer and trials per study stored with the round's
    studies, if it was started before (the trainer is None in stores of earlier versions)."""
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        name = summary.study_name
        attrs = summary.user_attrs
        if (name == round_name or name.startswith(f"{round_name}/")) and (
            StudyAttr.START_CONFIG in attrs
        ):
            trials = attrs.get(StudyAttr.TRIALS_PER_STUDY)
            return attrs[StudyAttr.START_CONFIG], attrs.get(StudyAttr.TRAINER), trials
    return None


def recorded_identity(
    storage: optuna.storages.BaseStorage, round_name: str
) -> dict[str, Any] | None:
    """The identity stored with the round's studies (``rounds/identity.py``); for studies of
    an earlier version, what they recorded of it; None when the round has no study yet."""
    legacy = None
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        name, attrs = summary.study_name, summary.user_attrs
        if not name.startswith(f"{round_name}/") and name != round_name:
            continue
        if name == promotion_study_name(round_name):
            continue
        stored = attrs.get(StudyAttr.IDENTITY)
        if isinstance(stored, dict):
            return stored
        legacy = legacy or legacy_identity(attrs)
    return legacy


def summarise(rnd: Round, point: Mapping[str, Any], study: optuna.Study) -> StudySummary:
    """The study's counts and best feasible trial, from the store."""
    s = StudySummary(rnd.study_name(point), dict(point), rnd.trials_per_study)
    direction = Direction.of(study.direction)
    s.stopped = (study.user_attrs.get(StudyAttr.STOPPED) or {}).get("reason")
    for t in study.get_trials(deepcopy=False):
        if TrialAttr.CARRIED_FROM in t.user_attrs:
            s.carried += 1  # an earlier round's trial: neither this round's work nor its best
            continue
        kind = trial_outcome(t)
        s.finished += kind in ("complete", "infeasible", "pruned")
        s.infeasible += kind == "infeasible"
        s.pruned += kind == "pruned"
        s.failed += kind == "failed"
        s.running += t.state in (TrialState.RUNNING, TrialState.WAITING)
        value = feasible_value(t)
        if value is not None:
            s._offer(value, t.params, t.number, direction)
        result = t.user_attrs.get(TrialAttr.RESULT) or {}
        steps, length = result.get("steps") or 0, result.get("max_steps") or 0
        s.steps += steps
        s.seconds += result.get("trial_seconds") or 0.0
        if kind == "pruned" and length > steps:
            s.saved_steps += length - steps
    return s


def summarise_all(rnd: Round, studies: list[Study]) -> list[StudySummary]:
    return [summarise(rnd, point, study) for point, study in studies]


def best_so_far(summaries: list[StudySummary], direction: Direction) -> str:
    values = [s.best_value for s in summaries if s.best_value is not None]
    if not values:
        return "no feasible trial yet"
    return f"best {direction.best(values):.4g}"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_summary(rnd: Round, summaries: list[StudySummary], metric: str) -> str:
    """The round's answer: per study, the best objective and its nuisance values."""
    lines = [f"round {rnd.name}: {rnd.goal}".rstrip(": ")]
    width = max(len(s.name) for s in summaries)
    lines.append(
        f"  {'study':<{width}}  {'trials':>7}  {'best ' + metric:>14}  "
        f"{'infeasible':>10}  {'failed':>6}  best nuisance values"
    )
    for s in summaries:
        best = f"{s.best_value:.4f}" if s.best_value is not None else "-"
        params = " ".join(f"{k}={_short(v)}" for k, v in s.best_params.items())
        lines.append(
            f"  {s.name:<{width}}  {s.finished:>3}/{s.budget:<3}  {best:>14}  "
            f"{s.infeasible:>10}  {s.failed:>6}  {params}"
        )
    carried = [f"{s.name} {s.carried}" for s in summaries if s.carried]
    for s in summaries:
        if s.stopped:
            lines.append(
                f"  stopped early (racing): {s.name} after {s.finished} trials: {s.stopped}"
            )
    if carried:
        lines.append(
            f"  started from earlier rounds' trials (not counted above): {', '.join(carried)}"
        )
    if rnd.budget.pruner != "none" or any(s.pruned for s in summaries):
        lines += compute_lines(summaries, rnd.budget.pruner)
    return "\n".join(lines)


def compute_lines(summaries: list[StudySummary], pruner: str) -> list[str]:
    """Compute spent per study (training length and wall time) and what pruning saved."""
    width = max(len(s.name) for s in summaries)
    lines = [f"  compute ({'pruner ' + pruner if pruner != 'none' else 'no pruner'}):"]
    for s in summaries:
        lines.append(
            f"  {s.name:<{width}}  {s.steps:>9,} steps  {s.seconds:>8.1f} s  "
            f"{s.pruned:>3} pruned  {s.saved_steps:>9,} steps saved"
        )
    spent, saved = sum(s.steps for s in summaries), sum(s.saved_steps for s in summaries)
    if spent + saved:
        lines.append(
            f"  pruning saved {saved:,} of {spent + saved:,} steps "
            f"({saved / (spent + saved):.0%}) that the round would have trained without it"
        )
    return lines
