"""The learning-rate sweep: the rate whose loss falls fastest and deepest, the step budget
read off its curve, and the draft's denser grid, on planted curves of known shape."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.next_round import draft_of
from orchestrator.analysis.run import analyze
from orchestrator.analysis.sweep import converged_step, densified, sweep_choice
from orchestrator.config.sections import AnalysisConfig

GRID = [3.0, 1.0, 0.3, 0.1, 0.03, 0.01, 0.001, 1e-4, 1e-5]
SPACE = {"optimizer.lr": [{"low": 1e-5, "high": 3.0, "log": True}]}
STEPS = 300


def planted_loss(lr: float, seed: int) -> list[float | None]:
    """Loss falls at a rate growing with lr up to 0.1; above it ends higher; 3.0 diverges
    (its loss climbs for 40 steps, then is NaN). The best curve (0.1) is within 5% of its
    fall by about step 90."""
    if lr >= 3.0:
        return [2.3 * 1.1**k for k in range(40)] + [None] * (STEPS - 40)
    rng = np.random.default_rng(seed)
    t = np.arange(1, STEPS + 1)
    speed = 30.0 / min(lr / 0.1, 1.0)  # steps per e-fold: 30 at lr >= 0.1, slower below
    floor = 0.2 + 0.4 * max(0.0, math.log10(lr / 0.1))  # higher floors above 0.1
    loss = floor + (2.3 - floor) * np.exp(-t / speed) + rng.normal(0, 0.01, STEPS)
    return loss.tolist()


def sweep_study(seed: int = 0) -> StudyRecord:
    trials = []
    for i, lr in enumerate(GRID):
        loss = planted_loss(lr, seed + i)
        last = loss[-1]
        state = "infeasible" if last is None else "complete"
        value = None if last is None else last / 3
        curves = {"train_loss": loss, "eval_step": [STEPS], "val_error": [value]}
        trials.append(
            TrialRecord(
                i, state, value, {"optimizer.lr": lr}, best_step=STEPS, max_steps=STEPS,
                curves=curves,
            )
        )  # fmt: skip
    return StudyRecord("round_0", {}, "minimize", "val_error", SPACE, trials, sampler="grid")


def round_0_config() -> dict:
    """round_0 as plain data: the rate on the sweep's grid, 300 steps."""
    return {
        "name": "round_0",
        "nuisance": {"optimizer.lr": dict(SPACE["optimizer.lr"][0])},
        "fixed": {"train.steps": 300},
        "budget": {"sampler": "grid", "grid": {"optimizer.lr": GRID}},
    }


@pytest.mark.parametrize("seed", range(10))
def test_the_fastest_and_deepest_curve_is_chosen(seed):
    choice = sweep_choice(sweep_study(seed))
    assert choice is not None and choice.value == 0.1
    assert choice.diverged == [3.0]
    # exp(-t/30) is within 5% of its fall at t = 30 ln 20 = 90 (the smoothing window and
    # the noise shift it a few steps); +25%, up to ten steps
    assert choice.converged_step is not None and 85 <= choice.converged_step <= 105
    assert choice.budget == math.ceil(choice.converged_step * 1.25 / 10) * 10


def test_a_curve_still_falling_at_the_end_gets_twice_its_length():
    t = np.arange(1, STEPS + 1)
    slow = TrialRecord(0, "complete", 0.5, {"optimizer.lr": 0.01},
                       curves={"train_loss": (0.2 + 2 * np.exp(-t / 400)).tolist()})  # fmt: skip
    assert converged_step(slow) == (None, STEPS)


def test_no_sweep_without_a_grid_over_one_param():
    study = sweep_study()
    assert sweep_choice(StudyRecord(**{**study.__dict__, "sampler": "qmc"})) is None


def test_the_draft_sweeps_denser_around_the_choice_at_the_budget():
    findings = analyze([sweep_study()], AnalysisConfig())
    (sweep,) = [f for f in findings if f.kind == "sweep"]
    assert "0.1 (trial 3) trains fastest and deepest" in sweep.message
    raw = round_0_config()
    draft, reasons = draft_of(raw, findings, [sweep_study()])
    assert draft["budget"]["grid"]["optimizer.lr"] == densified(0.1, 1e-5, 3.0)
    assert draft["budget"]["grid"]["optimizer.lr"] == [0.0333, 0.05, 0.1, 0.2, 0.3]
    assert draft["budget"]["trials_per_study"] == 5
    assert draft["fixed"]["train.steps"] == sweep.suggestion["train.steps"]
    assert not any(f.kind == "step_budget" and f.suggestion for f in findings)


def test_the_answer_says_the_chosen_rate_and_budget():
    from orchestrator.analysis.answer import format_answer, round_answer

    study = sweep_study()
    text = format_answer(round_answer("Which rate?", [study], analyze([study], AnalysisConfig())))
    assert "  chosen: Sweep of optimizer.lr: 0.1 (trial 3) trains fastest and deepest" in text
    assert "steps with a 25% margin" in text


def test_only_a_log_float_range_on_a_grid_is_a_sweep():
    study = sweep_study()
    for spec in ({"low": 16, "high": 512, "log": True}, {"choices": [0.1, 0.01]},
                 {"low": 0.0, "high": 0.5}):  # fmt: skip
        other = StudyRecord(**{**study.__dict__, "search_space": {"optimizer.lr": [spec]}})
        assert sweep_choice(other) is None, spec


def test_the_draft_grid_stays_out_of_a_region_that_diverged():
    # 1.0 and 3.0 diverge, so the draft trims the range below them; the denser grid
    # around the choice must not reach back into it
    study = sweep_study()
    trials = [
        TrialRecord(t.number, "infeasible", None, t.params, curves=t.curves)
        if t.params["optimizer.lr"] >= 1.0 else t
        for t in study.trials
    ]  # fmt: skip
    study = StudyRecord(**{**study.__dict__, "trials": trials})
    findings = analyze([study], AnalysisConfig())
    raw = round_0_config()
    draft, _ = draft_of(raw, findings, [study])
    high = draft["nuisance"]["optimizer.lr"]["high"]
    assert high < 1.0 and max(draft["budget"]["grid"]["optimizer.lr"]) <= high


def test_a_curve_that_never_fell_suggests_no_length():
    study = sweep_study()
    flat = [1.0 + 0.001 * i for i in range(STEPS)]
    trials = [
        dataclasses.replace(t, curves={**(t.curves or {}), "train_loss": flat})
        if t.state == "complete" else t
        for t in study.trials
    ]  # fmt: skip
    findings = analyze([StudyRecord(**{**study.__dict__, "trials": trials})], AnalysisConfig())
    (sweep,) = [f for f in findings if f.kind == "sweep"]
    assert "never fell" in sweep.message and "train.steps" not in sweep.suggestion
