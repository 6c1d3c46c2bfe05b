"""Pruning: each of Optuna's pruners stops a planted losing trial and never a planted
winner, through the worker's own path (the report hook, the trial outcome, the store); a
pruned command leaves no process; a resumed round keeps pruning; reruns never prune.

The trainer's curve is known (``trainers.planted_curve``: ``loss = x + 1/step``), and the
trials' values are enqueued in a fixed order: background trials around x = 0.4, then a
loser far above them (x = 5) and a winner below them (x = 0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from orchestrator.config.experiment import Experiment
from orchestrator.config.params import ParamSchema, ParamType
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.config.trainer_settings import CommandSettings, FunctionSettings, TrainerSettings
from orchestrator.rounds.validate import parse_round
from orchestrator.store.storage import create_storage
from orchestrator.work.loop import WorkerOptions, run_round
from orchestrator.work.studies import open_studies
from tests.trainers_tests.test_child_trainer import SCRIPT, wait_until_gone

BACKGROUND = [0.4 + 0.01 * (i % 7) - 0.03 for i in range(24)]
LOSER, WINNER = 5.0, 0.0


def own(settings: TrainerSettings, **tree: object) -> Experiment:
    types = {"x": ParamType(float), "steps": ParamType(int)}
    full = {"objective": {"metric": "loss", "direction": "minimize"}, "x": 0.5, "steps": 27,
            **tree}  # fmt: skip
    return Experiment(full, ParamSchema(types, builtin=False), settings, None, "steps")


def pruned_round(pruner: str, trials: int, **budget: object):
    raw = RoundConfig(
        name="p",
        nuisance={"x": {"low": 0.0, "high": 10.0}},
        budget=BudgetConfig(trials_per_study=trials, sampler="tpe", pruner=pruner, **budget),
    )
    return raw


def run(tmp_path: Path, start: Experiment, raw: RoundConfig, xs: list[float]):
    rnd = parse_round(raw, start)
    storage = create_storage(StorageConfig(url=f"sqlite:///{tmp_path}/p.db"))
    ((_, study),) = open_studies(rnd, start, storage)
    for x in xs:
        study.enqueue_trial({"x": x})
    run_round(rnd, start, storage, WorkerOptions(artifacts_dir=tmp_path / "a", progress=False))
    return optuna.load_study(study_name="p", storage=storage)


def by_x(study: optuna.Study, x: float) -> optuna.trial.FrozenTrial:
    return next(t for t in study.trials if t.params["x"] == x)


FUNCTION = FunctionSettings(target="tests.support.trainers.planted_curve")


@pytest.mark.parametrize(
    ("pruner", "settings"),
    [
        ("median", {"pruner_startup_trials": 5, "pruner_warmup_steps": 2}),
        ("successive_halving", {}),
        ("hyperband", {}),
        ("wilcoxon", {"pruner_warmup_steps": 2}),
    ],
)
def test_each_pruner_stops_a_planted_loser_and_never_a_planted_winner(tmp_path, pruner, settings):
    # each winner is the best so far when it runs (Wilcoxon prunes anything worse than the
    # best at every step, however slightly)
    xs = [*BACKGROUND, LOSER, WINNER + 0.001, LOSER + 1, WINNER]
    study = run(tmp_path, own(FUNCTION), pruned_round(pruner, len(xs), **settings), xs)
    for loser in (LOSER, LOSER + 1):
        trial = by_x(study, loser)
        assert trial.state == TrialState.PRUNED, (pruner, loser)
        steps = max(trial.intermediate_values)
        assert steps < 27 and trial.user_attrs["result"]["steps"] == steps  # where it stopped
    for winner in (WINNER, WINNER + 0.001):
        assert by_x(study, winner).state == TrialState.COMPLETE, (pruner, winner)


def test_without_a_pruner_nothing_is_pruned(tmp_path):
    xs = [*BACKGROUND[:6], LOSER]
    study = run(tmp_path, own(FUNCTION), pruned_round("none", len(xs)), xs)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_a_pruned_command_is_stopped_and_leaves_no_process(tmp_path):
    pids = tmp_path / "pids"
    command = CommandSettings((sys.executable, str(SCRIPT)), args="argparse", grace=1.0)
    start = own(command, mode="ok", steps=40, delay=0.05, seed=0, pids=str(pids))
    # the script's loss is (x - 0.3)^2 + 1/step: x = 0.3 is the winner, x = 5 the loser
    xs = [0.25, 0.35, 0.3, 0.4, 0.2, 5.0]
    raw = pruned_round("median", len(xs), pruner_startup_trials=3, pruner_warmup_steps=2)
    study = run(tmp_path, start, raw, xs)
    loser = by_x(study, 5.0)
    assert loser.state == TrialState.PRUNED
    assert max(loser.intermediate_values) < 40  # stopped well before its 40 steps
    assert wait_until_gone(pids) == []


def test_a_resumed_round_keeps_pruning_and_counts_pruned_trials_in_its_budget(tmp_path):
    first = [*BACKGROUND[:8], LOSER]
    study = run(tmp_path, own(FUNCTION), pruned_round("median", len(first)), first)
    assert by_x(study, LOSER).state == TrialState.PRUNED
    # the same round, a larger budget: it resumes, and the next loser is pruned too
    study = run(tmp_path, own(FUNCTION), pruned_round("median", len(first) + 2), [LOSER + 2, 0.0])
    assert len(study.trials) == len(first) + 2  # pruned trials count: nothing run again
    assert by_x(study, LOSER + 2).state == TrialState.PRUNED
    assert by_x(study, 0.0).state == TrialState.COMPLETE


@pytest.mark.parametrize("pruner", ["successive_halving", "hyperband"])
def test_rungs_follow_the_training_length_unless_set(tmp_path, pruner):
    # unset, the first rung is 40% of the length key's 27 steps (step 11): a trial is judged
    # on enough of its curve, not on the noise of its first evaluation; set, it is obeyed
    xs = [*BACKGROUND[:9], LOSER]
    study = run(tmp_path / "default", own(FUNCTION), pruned_round(pruner, len(xs)), xs)
    assert max(by_x(study, LOSER).intermediate_values) == 11
    raw = pruned_round(pruner, len(xs), pruner_min_resource=3)
    study = run(tmp_path / "set", own(FUNCTION), raw, xs)
    assert max(by_x(study, LOSER).intermediate_values) == 3


def test_a_tuned_or_scientific_length_sets_the_rungs_from_its_longest_value():
    start = own(FUNCTION)
    tuned = parse_round(
        RoundConfig(name="t", nuisance={"steps": {"low": 10, "high": 50}},
                    budget=BudgetConfig(sampler="tpe", pruner="hyperband")), start,
    )  # fmt: skip
    assert tuned.length(start, {}) == 50
    scientific = parse_round(
        RoundConfig(name="s", scientific={"steps": [20, 60]},
                    budget=BudgetConfig(sampler="tpe", pruner="hyperband")), start,
    )  # fmt: skip
    assert [scientific.length(start, p) for p in scientific.points()] == [20, 60]
    assert parse_round(pruned_round("hyperband", 4), start).length(start, {}) == 27
