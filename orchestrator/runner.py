"""A round's studies and the worker loop: run trials until every study has its budget.

The loop always feeds the study furthest from its budget, one trial at a time through
``study.optimize(n_trials=1)`` so Optuna's heartbeat thread and stale-trial check run for
every trial. Finished trials are never re-run: the budget counts COMPLETE and PRUNED
trials already in the store (plus RUNNING and WAITING ones, which someone will finish).
A trial left RUNNING by a killed process is failed once its heartbeat is stale and
retried once with the same parameters (a WAITING trial the next ``optimize`` picks up).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from tqdm.auto import tqdm

from orchestrator.exceptions import ConfigError
from orchestrator.objective import INFEASIBLE, Outcome, TrialObjective
from orchestrator.roles import Round
from orchestrator.train.config import ExperimentConfig, experiment_from_dict, experiment_to_dict
from orchestrator.train.data import Split

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0  # re-read every study at least this often (other workers' trials)


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
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_number: int | None = None


def config_hash(config: ExperimentConfig) -> str:
    text = json.dumps(experiment_to_dict(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def open_studies(
    rnd: Round, start: ExperimentConfig, storage: optuna.storages.BaseStorage
) -> list[tuple[dict[str, Any], optuna.Study]]:
    """Create or load one study per scientific point, stamped with the round's provenance.

    A study that exists but was started from another config is refused: mixing trials of
    two starting points would make the round's comparison meaningless.
    """
    digest = config_hash(start)
    out = []
    for point in rnd.points():
        name = rnd.study_name(point)
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            sampler=rnd.sampler(),
            pruner=optuna.pruners.NopPruner(),
            direction=start.objective.direction,
            load_if_exists=True,
        )
        previous = study.user_attrs.get("start_config_hash")
        if previous is not None and previous != digest:
            raise ConfigError(
                "round.start_from",
                f"study {name} was started from another config (hash {previous}, now {digest});"
                " finish it with the same starting config, or name the round anew",
            )
        attrs = {
            "round": rnd.name,
            "goal": rnd.goal,
            "scientific_point": {k: v for k, v in point.items()},
            "roles": rnd.roles(),
            "search_space": {p: [s.describe() for s in a] for p, a in rnd.nuisance.items()},
            "sampler": rnd.budget.sampler,
            "seed": rnd.budget.seed,
            "trials_per_study": rnd.budget.trials_per_study,
            "start_from": rnd.start_from,
            "start_config_hash": digest,
            "start_config": experiment_to_dict(start),
            "metric": start.objective.metric,
        }
        for key, value in attrs.items():
            if study.user_attrs.get(key) != value:
                study.set_user_attr(key, value)
        out.append((point, study))
    return out


def recorded_start(
    storage: optuna.storages.BaseStorage, round_name: str
) -> ExperimentConfig | None:
    """The start config stored with the round's studies, if the round was started before."""
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        name = summary.study_name
        if (name == round_name or name.startswith(f"{round_name}/")) and (
            "start_config" in summary.user_attrs
        ):
            return experiment_from_dict(summary.user_attrs["start_config"])
    return None


def summarise(rnd: Round, point: Mapping[str, Any], study: optuna.Study) -> StudySummary:
    s = StudySummary(rnd.study_name(point), dict(point), rnd.budget.trials_per_study)
    best: FrozenTrial | None = None
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.COMPLETE:
            s.finished += 1
            if t.constraints.get(INFEASIBLE, 0.0) > 0:
                s.infeasible += 1
            elif best is None or (t.value > best.value if maximize else t.value < best.value):
                best = t
        elif t.state == TrialState.PRUNED:
            s.finished += 1
            s.pruned += 1
        elif t.state == TrialState.FAIL:
            s.failed += 1
        elif t.state in (TrialState.RUNNING, TrialState.WAITING):
            s.running += 1
    if best is not None:
        s.best_value, s.best_params, s.best_number = best.value, dict(best.params), best.number
    return s


def _fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def run_round(
    rnd: Round,
    start: ExperimentConfig,
    storage: optuna.storages.BaseStorage,
    *,
    trainer_target: str,
    artifacts_dir: Path,
    progress: bool = True,
    poll_seconds: float = 2.0,
) -> list[StudySummary]:
    """Run trials until every study of the round has its budget; return the summaries."""
    studies = open_studies(rnd, start, storage)
    data_cache: dict[str, Split] = {}
    objectives = [
        TrialObjective(rnd, start, point, trainer_target, artifacts_dir, data_cache)
        for point, _ in studies
    ]
    max_failures = rnd.budget.max_failures or rnd.budget.trials_per_study
    total = rnd.budget.trials_per_study * len(studies)
    bar = tqdm(total=total, disable=not progress, unit="trial", dynamic_ncols=True)
    bar.set_description(rnd.name)

    def refresh_all() -> list[StudySummary]:
        for _, study in studies:
            _fail_stale(study)
        return [summarise(rnd, p, s) for p, s in studies]

    summaries, refreshed = refresh_all(), time.monotonic()
    maximize = start.objective.direction == "maximize"
    while True:
        bar.n = sum(s.finished for s in summaries)
        bar.set_postfix_str(_best_so_far(summaries, start.objective.direction))
        bar.refresh()
        open_ = [
            i
            for i, s in enumerate(summaries)
            if s.finished + s.running < s.budget and s.failed < max_failures
        ]
        if not open_ or time.monotonic() - refreshed > REFRESH_SECONDS:
            # Counts kept locally drift from the store when other workers run trials or a
            # stale one is retried: re-read everything before deciding that we are done.
            summaries, refreshed = refresh_all(), time.monotonic()
            open_ = [
                i
                for i, s in enumerate(summaries)
                if s.finished + s.running < s.budget and s.failed < max_failures
            ]
        if not open_:
            if any(s.running for s in summaries):  # others' trials, or stale ones to retry
                time.sleep(poll_seconds)
                refreshed = 0.0
                continue
            break
        i = min(open_, key=lambda k: summaries[k].finished + summaries[k].running)
        _, study = studies[i]
        study.optimize(objectives[i], n_trials=1, catch=(Exception,))  # fails stale trials too
        _account(summaries[i], objectives[i].last, maximize)
        if objectives[i].last_line is not None:
            log.info("%s %s", summaries[i].name, objectives[i].last_line)
    bar.close()
    return summaries


def _account(s: StudySummary, outcome: Outcome | None, maximize: bool) -> None:
    """Count the trial this worker just ran, without reading the store again."""
    if outcome is None or outcome.kind == "failed":
        s.failed += 1
        return
    s.finished += 1
    s.infeasible += outcome.kind == "infeasible"
    s.pruned += outcome.kind == "pruned"
    value = outcome.value
    if value is not None and (
        s.best_value is None or (value > s.best_value if maximize else value < s.best_value)
    ):
        s.best_value, s.best_params, s.best_number = value, outcome.params, outcome.number


def _best_so_far(summaries: list[StudySummary], direction: str) -> str:
    values = [s.best_value for s in summaries if s.best_value is not None]
    if not values:
        return "no feasible trial yet"
    return f"best {(max if direction == 'maximize' else min)(values):.4g}"


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
    return "\n".join(lines)
