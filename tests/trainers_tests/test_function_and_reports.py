"""The trainer's door: what a trainer is given, and what its answer becomes."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest

from orchestrator.config.experiment import Experiment
from orchestrator.config.params import ParamSchema, ParamType
from orchestrator.config.trainer_settings import FunctionSettings, selection_hint
from orchestrator.exceptions import ConfigError, TrainerContractError
from orchestrator.trainers.answer import build_result
from orchestrator.trainers.cache import TrainerCache
from orchestrator.trainers.function import checked_asks
from orchestrator.trainers.reports import Reports

OWN = Experiment(
    {"objective": {"metric": "val_acc", "direction": "maximize"}, "epochs": 4, "seed": 3},
    ParamSchema({"epochs": ParamType(int), "seed": ParamType(int)}, builtin=False),
    FunctionSettings("mine.train"),
    seed_key="seed",
    length_key="epochs",
)


def reports_of(*rows: tuple[int, dict]) -> Reports:
    reports = Reports("val_acc", maximize=True)
    for step, metrics in rows:
        reports.report(step, **metrics)
    return reports


def test_reports_become_curves_the_best_step_and_the_length_in_the_users_unit():
    reports = reports_of(
        (1, {"train_loss": 2.0, "val_loss": 1.0, "val_acc": 0.5}),
        (2, {"train_loss": 1.0, "val_loss": 0.5, "val_acc": 0.9}),
        (3, {"train_loss": 0.5, "val_loss": 0.6, "val_acc": 0.8}),
    )
    result = build_result(None, reports, OWN)  # None: the best reported value
    assert (result.objective, result.best_step, result.steps, result.max_steps) == (0.9, 2, 3, 4)
    assert result.curves.train_loss == [2.0, 1.0, 0.5] and result.curves.eval_step == [1, 2, 3]
    assert result.curves.val_loss == [1.0, 0.5, 0.6]
    assert result.curves.metrics == {"val_acc": [0.5, 0.9, 0.8]}
    assert result.seed == 3 and result.final["val_acc"] == 0.8


def test_a_returned_number_or_metrics_dict_is_the_objective():
    reports = reports_of((1, {"val_acc": 0.5}), (2, {"val_acc": 0.7}))
    assert build_result(0.75, reports, OWN).objective == 0.75
    assert build_result({"val_acc": 0.8, "f1": 0.6}, reports, OWN).objective == 0.8
    assert build_result(0.75, reports, OWN).best_step == 2


def test_sparse_training_loss_keeps_its_steps():
    reports = reports_of((10, {"train_loss": 1.0, "val_acc": 0.5}), (20, {"val_acc": 0.6}))
    curves = build_result(None, reports, OWN).curves
    assert len(curves.train_loss) == 20 and curves.train_loss[9] == 1.0
    assert curves.train_loss.count(None) == 19


def test_a_non_finite_objective_is_an_infeasible_run():
    result = build_result(float("nan"), reports_of((1, {"val_acc": 0.1})), OWN)
    assert result.diverged and result.objective is None and "nan" in result.divergence_reason


@pytest.mark.parametrize(
    ("returned", "rows"),
    [(None, ()), ({"f1": 0.5}, ()), (0.5, ((1, {"val_loss": 0.3}),))],
    ids=["nothing", "another metric", "reports without the objective"],
)
def test_an_objective_never_reported_names_what_was(returned, rows):
    with pytest.raises(
        TrainerContractError, match="never reported the objective's metric 'val_acc'"
    ):
        build_result(returned, reports_of(*rows), OWN)


def test_the_stop_answer_comes_from_the_objective_metric_only():
    asked = []

    def on_value(step: int, value: float) -> bool:
        asked.append((step, value))
        return value < 0.2

    reports = Reports("val_acc", maximize=True, on_value=on_value)
    assert reports.report(1, train_loss=3.0) is False and asked == []
    assert reports.report(2, val_acc=0.1) is True and asked == [(2, 0.1)]
    assert build_result(None, reports, OWN).status == "stopped"
    # not finite: not asked, the run is told to stop (it diverged: nothing after counts)
    assert reports.report(3, val_acc=math.inf) is True and asked == [(2, 0.1)]
    assert build_result(None, reports, OWN).divergence_reason == (
        "non-finite val_acc (inf) reported at step 3"
    )


def test_numpy_numbers_are_numbers_and_a_never_finite_metric_is_a_diverged_run():
    reports = Reports("val_acc", maximize=True)
    reports.report(np.int64(1), val_acc=np.float32(0.5))
    assert build_result({"val_acc": np.float64(0.75)}, reports, OWN).objective == 0.75
    nan = reports_of((1, {"val_acc": math.nan}), (2, {"val_acc": math.nan}))
    assert build_result(None, nan, OWN).diverged


def test_a_bad_report_is_a_contract_error():
    with pytest.raises(TrainerContractError, match="step must be an int >= 1"):
        Reports("m", False).report(1.5, m=1.0)  # type: ignore[arg-type]
    with pytest.raises(TrainerContractError, match="steps and epochs count from 1"):
        Reports("m", False).report(0, m=1.0)
    with pytest.raises(TrainerContractError, match="metrics must be numbers"):
        Reports("m", False).report(1, m="high")  # type: ignore[arg-type]


def own(cfg, report, *, scale=2.0):
    return 0.0


def wants_data(cfg, data):
    return 0.0


def wants_more(cfg, report, lr):
    return 0.0


def shows_progress(cfg, progress):
    return 0.0


def takes_kwargs(config, **kwargs):
    return 0.0


def test_a_trainer_receives_only_the_documented_names_it_asks_for():
    assert checked_asks("m.own", own, builtin=False) == {"report"}
    with pytest.raises(ConfigError, match="needs a parameter 'data'.*your trainer loads its own"):
        checked_asks("m.wants_data", wants_data, builtin=False)
    assert checked_asks("m.wants_data", wants_data, builtin=True) == {"data"}
    with pytest.raises(ConfigError, match="needs a parameter 'lr' the orchestrator does not pass"):
        checked_asks("m.wants_more", wants_more, builtin=False)
    assert checked_asks("m.shows_progress", shows_progress, builtin=False) == {"progress"}
    assert checked_asks("m.takes_kwargs", takes_kwargs, builtin=True) == {"on_eval"}  # as before
    assert checked_asks("m.takes_kwargs", takes_kwargs, builtin=False) == set()


def test_metrics_named_in_trainer_curves_become_the_curves_the_checks_read():
    reports = Reports("val/acc", True, roles={"train/loss": "train_loss", "val/loss": "val_loss"})
    reports.report(1, **{"train/loss": 2.0, "val/loss": 1.5, "val/acc": 0.5})
    reports.report(2, **{"train/loss": 1.0, "val/loss": 1.2, "val/acc": 0.7})
    curves = reports.curves()
    assert curves.train_loss == [2.0, 1.0] and curves.val_loss == [1.5, 1.2]
    assert curves.metrics == {"val/acc": [0.5, 0.7]}


def test_final_metrics_from_the_helper_join_a_returned_number(tmp_path):
    exp = dataclasses.replace(
        OWN, trainer_settings=FunctionSettings("tests.support.trainers.reports_and_finals")
    )
    result = TrainerCache().train(exp, Reports.of(exp))
    assert result.objective == 0.4  # what it returned
    assert result.final["test_acc"] == 0.9 and result.final["val_acc"] == 0.4


def test_the_helper_is_the_same_module_under_both_names_without_the_editable_path():
    code = (
        "import sys; sys.path = [p for p in sys.path if not p.endswith('orchestrator/child')]; "
        "import orchestrator.trainers.function, orchestrator.child.trial_report as a; "
        "import trial_report as b; print(a is b)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stderr


def test_error_hints_select_the_trainer_kind_they_name():
    assert selection_hint("pkg.train") == "trainer._target_=pkg.train"
    assert selection_hint("hydra_app src.train.main") == (
        "trainer.kind=hydra_app trainer._target_=src.train.main"
    )
    assert selection_hint("command python train.py") == (
        "trainer.kind=command trainer.command='python train.py'"
    )


def test_a_non_finite_objective_or_loss_at_any_step_makes_the_run_diverged_there():
    """Issue 26: a NaN after good values gave a COMPLETE trial with the value from before."""
    late = reports_of((1, {"val_acc": 0.5}), (2, {"val_acc": 0.7}), (3, {"val_acc": math.nan}))
    for returned in (None, 0.7, {"val_acc": 0.7}):
        result = build_result(returned, late, OWN)
        assert result.diverged and result.objective is None and result.diverged_step == 3
        assert result.divergence_reason == "non-finite val_acc (nan) reported at step 3"
    loss = reports_of((1, {"val_acc": 0.5, "train_loss": 1.0}), (2, {"train_loss": -math.inf}))
    assert build_result(None, loss, OWN).divergence_reason == (
        "non-finite train_loss (-inf) reported at step 2"
    )
    # a metric of the user's mapped to a loss curve counts as that curve
    mapped = Reports("val_acc", maximize=True, roles={"train/loss": "train_loss"})
    mapped.report(1, val_acc=0.5, **{"train/loss": math.nan})
    assert build_result(None, mapped, OWN).diverged_step == 1
    # another metric (a rate, an F1 of no positives) may be non-finite: the run stands
    other = reports_of((1, {"val_acc": 0.5, "grad_norm": math.inf, "val_f1": math.nan}))
    assert build_result(None, other, OWN).status == "completed"
    # a trainer's own result claiming completion after reporting a NaN is diverged too
    own = {"status": "completed", "objective": 0.7, "best_step": 2, "metric": "val_acc",
           "direction": "maximize", "steps": 3, "max_steps": 4}  # fmt: skip
    assert build_result(own, late, OWN).diverged_step == 3
