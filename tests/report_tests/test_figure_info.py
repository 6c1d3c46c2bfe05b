"""What the report's figures show, read off the info records before any drawing (no plotly)."""

from __future__ import annotations

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.report.figure_info import (
    axis_info,
    best_curves_info,
    decision_info,
    importance_info,
    isolation_info,
    timeline_info,
)
from orchestrator.report.trial_curves import trial_curves_info
from tests.report_tests.test_round_report import DECISION, _study


def _tiny(trials: list[TrialRecord], space: dict[str, list[dict[str, object]]]) -> StudyRecord:
    return StudyRecord(
        name="r/s", point={}, direction="minimize", metric="val_error", search_space=space,
        trials=trials,
    )  # fmt: skip


def test_axis_info_marks_the_best_and_puts_the_unscored_on_top() -> None:
    info = axis_info(_study(1, 0.3, 0.0), "optimizer.lr")
    assert info.best_trial == 11 and info.best.x == (2.9,)  # the planted best, at the high edge
    assert info.infeasible.x == (2.5, 2.7, 2.95) and info.pruned.x == (0.05,)
    bottom, top = info.y_span
    assert set(info.infeasible.y) == {top} and set(info.pruned.y) == {top}
    assert bottom < min(info.complete.y) and top > max(info.complete.y)
    assert info.edges == (("low", 0.01), ("high", 3.0)) and info.x_type == "log"
    assert info.title == "model.depth=1: val_error vs optimizer.lr"


def test_axis_info_without_trials_or_with_choices() -> None:
    empty = axis_info(_tiny([], {}), "x")
    assert empty.best_trial is None and empty.y_span == (0.0, 1.0) and empty.edges == ()
    trials = [TrialRecord(number=i, state="complete", value=v, params={"a": c})
              for i, (v, c) in enumerate([(0.2, "relu"), (0.1, "gelu")])]  # fmt: skip
    info = axis_info(_tiny(trials, {"a": [{"choices": ["relu", "gelu"]}]}), "a")
    assert info.x_type == "category" and info.best.x == ("gelu",) and info.edges == ()


def test_isolation_info_keeps_the_top_k_of_each_study() -> None:
    info = isolation_info([_study(1, 0.3, 0.0), _study(2, 0.1, 0.0)], top_k=2)
    assert info is not None and info.labels == ("model.depth=1", "model.depth=2")
    assert info.best == (0.5, 0.3) and len(info.spread_x) == 4
    assert isolation_info([_tiny([], {})], top_k=3) is None


def test_best_curves_and_importance_leave_out_what_they_cannot_show() -> None:
    (curve,) = best_curves_info([_study(1, 0.3, 0.0), _tiny([], {})])
    assert curve.name == "model.depth=1 (trial 11)" and len(curve.loss) == 100
    assert curve.eval_step == (25, 50, 75, 100)
    assert importance_info([_tiny([], {})], min_trials=10) == ()


def test_timeline_info_counts_from_the_first_start() -> None:
    groups = {g.state: g for g in timeline_info([_study(1, 0.3, 1000.0)])}
    assert list(groups) == ["complete", "infeasible", "pruned"]  # running: never finished
    assert groups["complete"].base[:2] == (0.0, 10.0) and set(groups["complete"].length) == {8.0}
    assert timeline_info([_tiny([], {})]) == ()


def test_decision_info_pairs_seeds_and_states_the_effect() -> None:
    info = decision_info(DECISION)
    assert [(p.name, p.incumbent, p.candidate) for p in info.pairs][0] == ("seed 1", 0.35, 0.30)
    assert info.title == "Promotion: promoted (effect -0.05, CI [-0.06, -0.04])"
    assert decision_info({"effect": True}).title == "Promotion: ?" and not decision_info({}).pairs


def test_trial_curves_info_colours_a_sweep_and_marks_the_diverged() -> None:
    from orchestrator.analysis.sweep import sweep_choice
    from tests.analysis_tests.test_sweep import sweep_study

    study = sweep_study()
    info = trial_curves_info(study, "optimizer.lr", sweep_choice(study))
    assert info.colorbar is not None and info.colorbar[0] == "optimizer.lr"
    assert sum(c.chosen for c in info.curves) == 1
    assert all((c.broke_off is not None) == c.diverged for c in info.curves)
    assert any(c.diverged for c in info.curves)
    plain = trial_curves_info(_study(1, 0.3, 0.0))
    assert plain.colorbar is None and [c.name for c in plain.curves] == ["trial 11 (#1)"]
