"""A trainer that returns a tuple (issue 25): ``(objective, {metrics})`` is an answer, any
other tuple (``return loss, acc``) is one error naming what to return, through the real
command line and at the trainer's door."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from orchestrator.exceptions import TrainerContractError
from orchestrator.trainers.answer import build_result
from tests.support.cli import run_own_config, write_own_config
from tests.trainers_tests.test_function_and_reports import OWN, reports_of

ROUND = {"name": "r1", "goal": "x", "start_from": "base",
         "nuisance": {"lr": {"low": 0.01, "high": 1.0, "log": True}},
         "budget": {"trials_per_study": 2}}  # fmt: skip
TWO_NUMBERS = (
    "the trainer returned a tuple (float, float), which does not say which value is the "
    "objective val_loss; return the objective and the other metrics by name (return val_loss, "
    '{"acc": acc}), a dict of metrics ({"val_loss": ..., "acc": ...}), or the objective alone'
)


def work(tmp: Path, trainer: str):
    config = {"defaults": ["orchestrator", "_self_"], "lr": 0.1,
              "trainer": {"_target_": f"tests.support.trainers.{trainer}"},
              "objective": {"metric": "val_loss", "direction": "minimize"}}  # fmt: skip
    conf = write_own_config(tmp / "conf", config, [ROUND])
    return run_own_config(conf, tmp / "studies", "round=r1", "stage=work")


def trials(tmp: Path) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="r1", storage=f"sqlite:///{tmp}/studies/tuning.db").trials


def test_objective_and_metrics_dict_is_an_answer(tmp_path):
    done = work(tmp_path, "own_pair")
    assert done.returncode == 0, done.stderr
    assert [(t.state.name, t.value) for t in trials(tmp_path)] == [("COMPLETE", 0.5)] * 2
    assert all(t.user_attrs["result"]["final"] == {"acc": 0.8} for t in trials(tmp_path))


def test_a_tuple_of_numbers_stops_the_round_with_one_error_naming_what_to_return(tmp_path):
    done = work(tmp_path, "own_two_numbers")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: r1 trial 0: {TWO_NUMBERS} (the trial is FAIL; the round stops here, as every "
        "trial would fail the same way)"
    )
    assert [t.state.name for t in trials(tmp_path)] == ["FAIL"]


@pytest.mark.parametrize(
    "returned", [(0.5, 0.8), (0.5,), ({"val_acc": 0.5}, 0.8), (None, {"acc": 0.8}), (0.5, 1, 2)]
)
def test_every_other_tuple_is_the_same_error(returned):
    with pytest.raises(TrainerContractError, match=r"^the trainer returned a tuple \("):
        build_result(returned, reports_of((1, {"val_acc": 0.5})), OWN)


def test_the_pairs_first_value_is_the_objective_and_its_metrics_join_final():
    result = build_result((0.9, {"f1": 0.6, "note": "x"}), reports_of((1, {"val_acc": 0.5})), OWN)
    assert result.objective == 0.9 and result.final == {"f1": 0.6, "val_acc": 0.5}
