"""Curve checks on hand-built trials with planted curves: each fires when it should, else not.

The curves mimic the default training (300 steps, an evaluation every 50, noisy per-step
losses), so the rules are tested at the resolution they will meet in practice.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from orchestrator.analysis.curve_checks import (
    CURVE_CHECKS,
    instability,
    late_variance,
    overfitting,
    run_curve_checks,
    saturated_early,
    still_improving,
    training_loss_rising,
    update_ratio,
)
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.skipped import skipped_checks
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.findings import Finding

CFG = AnalysisConfig()
STEPS = 300
EVAL_STEPS = [50, 100, 150, 200, 250, 300]
CLEAN_ERRORS = [0.60, 0.45, 0.35, 0.30, 0.27, 0.255]  # improving, slowing down
OVERFIT_ERRORS = [0.60, 0.40, 0.30, 0.33, 0.38, 0.42]  # minimum at 150, then rising


def falling_loss(seed: int = 0, noise: float = 0.02, steps: int = STEPS) -> list[float]:
    """A training loss decaying from ~2.3 towards ~0.3 with small per-batch noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    loss = 0.3 + 2.0 * np.exp(-t / 80.0) + rng.normal(0.0, noise, steps)
    return loss.tolist()


def curves(
    errors: list[float] | None = None,
    eval_steps: list[int] | None = None,
    train_loss: list[float | None] | None = None,
    grad_norm: list[float | None] | None = None,
    lr: list[float] | None = None,
    ratios: list[float | None] | None = None,
) -> dict[str, Any]:
    """A ``Curves`` dict; unspecified parts are a clean, smooth, constant-lr run."""
    errors = CLEAN_ERRORS if errors is None else errors
    eval_steps = EVAL_STEPS if eval_steps is None else eval_steps
    train_loss = falling_loss() if train_loss is None else train_loss
    n = len(train_loss)
    ratio_steps = list(range(1, n + 1, 10))
    return {
        "train_loss": train_loss,
        "lr": [0.1] * n if lr is None else lr,
        "grad_norm": smooth_norms(n) if grad_norm is None else grad_norm,
        "update_ratio_step": ratio_steps,
        "update_ratio": [1e-3] * len(ratio_steps) if ratios is None else ratios,
        "eval_step": eval_steps,
        "val_loss": [2.0 * e for e in errors],
        "val_error": errors,
    }


def smooth_norms(n: int = STEPS, seed: int = 1) -> list[float]:
    """Gradient norms around 1 with 10% noise: no spikes."""
    return (1.0 + np.random.default_rng(seed).normal(0.0, 0.1, n)).tolist()


def trial(
    c: dict[str, Any] | None, number: int = 0, value: float = 0.25, **kw: Any
) -> TrialRecord:
    return TrialRecord(
        number=number, state="complete", value=value, params={}, max_steps=STEPS, curves=c, **kw
    )


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind for f in findings]


def assert_well_formed(findings: list[Finding], study: str = "s") -> None:
    """Every finding names its study, no parameter, a known severity and a suggestion."""
    for f in findings:
        assert f.study == study
        assert f.param is None
        assert f.severity in ("info", "warn", "block")
        assert f.suggestion
        assert f.message.startswith("trial ")


# --------------------------------------------------------------------------- overfitting


def test_overfitting_fires_on_rising_validation_error_with_falling_training_loss() -> None:
    found = overfitting(trial(curves(OVERFIT_ERRORS)), "s", CFG)
    assert kinds(found) == ["overfitting"]
    assert found[0].severity == "warn"
    assert "0.3" in found[0].message and "step 150" in found[0].message
    assert found[0].suggestion["or"] == "fewer steps"
    assert "regularisation" in found[0].suggestion
    assert_well_formed(found)


def test_overfitting_silent_on_a_clean_curve() -> None:
    assert overfitting(trial(curves(CLEAN_ERRORS)), "s", CFG) == []


def test_overfitting_silent_on_one_bad_last_evaluation() -> None:
    """A single noisy last evaluation is not a trend: two evaluations after the minimum."""
    errors = [0.60, 0.45, 0.35, 0.30, 0.27, 0.40]
    assert overfitting(trial(curves(errors)), "s", CFG) == []


def test_overfitting_silent_when_the_rise_is_below_threshold() -> None:
    errors = [0.60, 0.40, 0.30, 0.31, 0.33, 0.34]  # +0.035 points < 0.05
    assert overfitting(trial(curves(errors)), "s", CFG) == []
    assert overfitting(trial(curves(errors)), "s", AnalysisConfig(overfit_rise=0.03)) != []


def test_overfitting_silent_when_training_loss_rises_too() -> None:
    """Validation and training loss rising together is instability, not overfitting."""
    loss = falling_loss()[:150] + np.linspace(0.8, 2.0, 150).tolist()
    assert overfitting(trial(curves(OVERFIT_ERRORS, train_loss=loss)), "s", CFG) == []


def test_overfitting_on_val_loss_is_relative() -> None:
    c = curves(OVERFIT_ERRORS)
    c["val_loss"] = [1.0, 0.8, 0.70, 0.72, 0.74, 0.75]  # +6.4% relative > 5%
    c["val_error"] = [None] * 6  # forces the loss curve, whatever the metric asked
    assert kinds(overfitting(trial(c), "s", CFG, metric="val_loss")) == ["overfitting"]
    c["val_loss"] = [1.0, 0.8, 0.70, 0.71, 0.72, 0.72]  # +2.9% relative
    assert overfitting(trial(c), "s", CFG, metric="val_loss") == []


# --------------------------------------------------------------------------- late variance

LATE_EVAL_STEPS = list(range(25, 301, 25))  # 12 evaluations, 3 of them in the last 25%


def test_late_variance_fires_on_a_wobbling_late_validation_error() -> None:
    errors = [0.6, 0.5, 0.45, 0.4, 0.36, 0.34, 0.33, 0.32, 0.31, 0.30, 0.38, 0.28]
    found = late_variance(trial(curves(errors, LATE_EVAL_STEPS)), "s", CFG)
    assert kinds(found) == ["late_variance"]
    assert found[0].severity == "warn"
    assert "val_error" in found[0].message and "3 points" in found[0].message
    assert found[0].suggestion["schedule.name"] == "linear"  # the lr was constant
    assert_well_formed(found)


def test_late_variance_silent_on_a_steady_late_validation_error() -> None:
    errors = [0.6, 0.5, 0.45, 0.4, 0.36, 0.34, 0.33, 0.32, 0.31, 0.30, 0.29, 0.285]
    assert late_variance(trial(curves(errors, LATE_EVAL_STEPS)), "s", CFG) == []


def test_late_variance_ignores_a_smooth_late_trend() -> None:
    """A fast but smooth late fall is a trend, not noise (std around a line, not raw std)."""
    errors = [0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.40, 0.30, 0.20]
    assert late_variance(trial(curves(errors, LATE_EVAL_STEPS)), "s", CFG) == []


def test_late_variance_needs_late_evaluations_and_says_so() -> None:
    """Only two late evaluations (default cadence): per-batch loss noise is no late
    variance, so the check is skipped, and the skipped findings say why."""
    noisy = trial(curves(train_loss=falling_loss(noise=0.15)))
    assert late_variance(noisy, "s", CFG) == []
    study_ = StudyRecord("s", {}, "minimize", "val_error", {}, [noisy])
    (skipped,) = [
        f for f in skipped_checks([study_], "train.steps") if "late_variance" in f.message
    ]
    assert "2 evaluations in the last 25% of training, fewer than 3" in skipped.message


def test_late_variance_with_a_decaying_schedule_suggests_no_schedule() -> None:
    lr = np.linspace(0.1, 0.0, STEPS).tolist()
    errors = [0.6, 0.5, 0.45, 0.4, 0.36, 0.34, 0.33, 0.32, 0.31, 0.30, 0.38, 0.28]
    found = late_variance(trial(curves(errors, LATE_EVAL_STEPS, lr=lr)), "s", CFG)
    assert kinds(found) == ["late_variance"]
    assert "schedule.name" not in found[0].suggestion


def test_an_accuracy_objective_is_judged_as_its_error_with_its_sampling_noise() -> None:
    # the digits example: accuracy ~0.97 on 360 images, late swings of about 2-9 images
    acc = [0.90, 0.92, 0.94, 0.95, 0.96, 0.965, 0.97, 0.968, 0.972, 0.97, 0.975, 0.953]
    c = curves(eval_steps=LATE_EVAL_STEPS)
    c["val_error"], c["val_loss"] = [None] * 12, [0.1, 0.3, 0.1, 0.3] * 3  # a wild val_loss
    c["metrics"] = {"val_accuracy": acc}
    study_ = StudyRecord("s", {}, "maximize", "val_accuracy", {}, [trial(c)], val_examples=360)
    assert "late_variance" not in kinds(run_curve_checks([study_], CFG))  # within its noise
    c["metrics"] = {"val_accuracy": acc[:9] + [0.97, 0.85, 0.97]}  # a 12-point swing
    study_ = StudyRecord("s", {}, "maximize", "val_accuracy", {}, [trial(c)], val_examples=360)
    (found,) = [f for f in run_curve_checks([study_], CFG) if f.kind == "late_variance"]
    assert "1 - val_accuracy" in found.message


# --------------------------------------------------------------------------- still improving


def test_still_improving_fires_when_the_last_evaluation_is_clearly_best() -> None:
    found = still_improving(trial(curves([0.6, 0.5, 0.45, 0.40, 0.33, 0.25])), "s", CFG)
    assert kinds(found) == ["still_improving"]
    assert found[0].severity == "info"
    assert found[0].suggestion["train.steps"] == 2 * STEPS
    assert found[0].suggestion["or"] == {"schedule.name": "linear"}
    assert_well_formed(found)


def test_still_improving_silent_on_a_plateau() -> None:
    """The last is the best, but by 0.002 points only: a plateau, not progress."""
    assert still_improving(trial(curves([0.6, 0.4, 0.32, 0.30, 0.30, 0.298])), "s", CFG) == []


def test_still_improving_silent_when_the_last_is_not_the_best() -> None:
    assert still_improving(trial(curves([0.6, 0.4, 0.32, 0.28, 0.25, 0.26])), "s", CFG) == []
    # beats the late mean (0.32) by 0.03, but 0.25 at step 150 was better: a late recovery
    errors = [0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.28, 0.3, 0.31, 0.30, 0.34, 0.29]
    assert still_improving(trial(curves(errors, LATE_EVAL_STEPS)), "s", CFG) == []


def test_still_improving_is_judged_against_the_late_noise() -> None:
    """Late evaluations 0.30, 0.27, 0.30 then 0.265: the last beats the earlier late mean
    (0.29) by 0.025, within 2.5 noises of a curve zigzagging by 0.03: no finding; the same
    gain on a smooth late curve is one."""
    zigzag = [0.6, 0.5, 0.45, 0.4, 0.36, 0.34, 0.32, 0.31, 0.30, 0.27, 0.30, 0.265]
    assert still_improving(trial(curves(zigzag, LATE_EVAL_STEPS)), "s", CFG) == []
    smooth = [0.6, 0.5, 0.45, 0.4, 0.37, 0.35, 0.335, 0.32, 0.305, 0.29, 0.275, 0.26]
    assert still_improving(trial(curves(smooth, LATE_EVAL_STEPS)), "s", CFG) != []
    strict = AnalysisConfig(improving_tolerance=0.03)  # the gain 0.0225 is below it
    assert still_improving(trial(curves(smooth, LATE_EVAL_STEPS)), "s", strict) == []


def test_still_improving_with_a_decaying_schedule_only_suggests_steps() -> None:
    lr = np.linspace(0.1, 0.0, STEPS).tolist()
    found = still_improving(trial(curves([0.6, 0.5, 0.45, 0.4, 0.33, 0.25], lr=lr)), "s", CFG)
    assert found[0].suggestion == {"train.steps": 2 * STEPS}


# --------------------------------------------------------------------------- saturated early


def test_saturated_early_fires_on_an_early_plateau() -> None:
    """Within 0.01 of the best (0.249 at 200) already at step 100, a third of the budget."""
    found = saturated_early(trial(curves([0.30, 0.25, 0.252, 0.249, 0.251, 0.25])), "s", CFG)
    assert kinds(found) == ["saturated_early"]
    assert found[0].severity == "info"
    assert found[0].suggestion == {"train.steps": 200}
    assert "step 100" in found[0].message
    assert_well_formed(found)


def test_saturated_early_silent_when_improving_to_the_end() -> None:
    assert saturated_early(trial(curves(CLEAN_ERRORS)), "s", CFG) == []


def test_saturated_early_silent_when_the_plateau_starts_after_the_threshold() -> None:
    errors = [0.6, 0.45, 0.30, 0.25, 0.251, 0.25]  # plateau from step 200 of 300
    assert saturated_early(trial(curves(errors)), "s", CFG) == []


# --------------------------------------------------------------------------- training loss


def test_training_loss_rising_fires_when_the_smoothed_loss_climbs() -> None:
    loss = falling_loss()[:150] + np.linspace(0.9, 2.0, 150).tolist()
    found = training_loss_rising(trial(curves(train_loss=loss)), "s", CFG)
    assert kinds(found) == ["training_loss_rising"]
    assert found[0].severity == "warn"
    assert "bug or instability" in found[0].message
    assert_well_formed(found)


def test_training_loss_rising_silent_when_falling() -> None:
    assert training_loss_rising(trial(curves()), "s", CFG) == []


def test_training_loss_rising_silent_on_a_noisy_flat_loss() -> None:
    """Per-batch noise of 15% is averaged away by the windows."""
    flat = (1.0 + np.random.default_rng(3).normal(0.0, 0.15, STEPS)).tolist()
    assert training_loss_rising(trial(curves(train_loss=flat)), "s", CFG) == []


def test_training_loss_rising_skips_non_finite_steps() -> None:
    loss: list[float | None] = list(falling_loss())
    loss[10] = None
    loss[-1] = None
    assert training_loss_rising(trial(curves(train_loss=loss)), "s", CFG) == []


def test_training_loss_rising_from_the_start_says_so() -> None:
    found = training_loss_rising(
        trial(curves(train_loss=np.linspace(1, 3, STEPS).tolist())), "s", CFG
    )
    assert kinds(found) == ["training_loss_rising"] and "rising from the start" in found[0].message


# --------------------------------------------------------------------------- instability


def test_instability_leaves_out_the_initial_transient_and_names_a_real_spike() -> None:
    norms = [50.0, 40.0, 30.0] + smooth_norms()[3:]
    assert instability(trial(curves(grad_norm=norms)), "s", CFG) == []
    norms[150] = 8.0
    (found,) = instability(trial(curves(grad_norm=norms)), "s", CFG)
    assert "1 gradient-norm spikes" in found.message and "max 8 at step 151" in found.message


def test_instability_fires_on_early_spikes_and_suggests_warmup_and_clipping() -> None:
    norms = smooth_norms()
    for step in (3, 20, 200):
        norms[step - 1] = 20.0
    found = instability(trial(curves(grad_norm=norms)), "s", CFG)
    assert kinds(found) == ["instability"]
    assert found[0].severity == "warn"
    assert found[0].suggestion["train.grad_clip_norm"] == round(float(np.percentile(norms, 90)), 3)
    assert found[0].suggestion["schedule.warmup_steps"] == 20  # covers the last early spike
    assert "3 gradient-norm spikes" in found[0].message and "warm up" in found[0].message
    assert_well_formed(found)


def test_instability_late_spike_gets_default_warmup() -> None:
    norms = smooth_norms()
    norms[199] = 20.0
    found = instability(trial(curves(grad_norm=norms)), "s", CFG)
    assert found[0].suggestion["schedule.warmup_steps"] == 15  # 5% of 300
    assert "none early" in found[0].message


def test_instability_silent_on_smooth_norms() -> None:
    norms = smooth_norms()
    norms[0] = 4.0  # a large first step, but under 5x the median
    assert instability(trial(curves(grad_norm=norms)), "s", CFG) == []


def test_update_ratio_far_from_typical_is_info() -> None:
    high = update_ratio(trial(curves(ratios=[0.3] * 30)), "s", CFG)
    low = update_ratio(trial(curves(ratios=[1e-6] * 30)), "s", CFG)
    assert kinds(high) == kinds(low) == ["update_ratio"]
    assert high[0].severity == low[0].severity == "info"
    assert high[0].suggestion == {"optimizer.lr": "lower"}
    assert low[0].suggestion == {"optimizer.lr": "higher"}
    assert update_ratio(trial(curves(ratios=[1e-3] * 30)), "s", CFG) == []


# --------------------------------------------------------------------------- missing curves

ALL_CHECKS = list(CURVE_CHECKS)  # every check, in the order the analysis runs them


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("stored", [None, {}], ids=["none", "empty"])
def test_checks_silent_without_curves(check: Any, stored: dict[str, Any] | None) -> None:
    assert check(trial(stored), "s", CFG) == []


def test_checks_silent_with_too_few_points() -> None:
    c = curves([0.5, 0.3], [150, 300], train_loss=[2.0, 1.0], grad_norm=[1.0, 50.0])
    for check in ALL_CHECKS:
        if check is not still_improving:  # two evaluations do show a last-is-best gain
            assert check(trial(c), "s", CFG) == [], check.__name__


# --------------------------------------------------------------------------- the round


def study(trials: list[TrialRecord], name: str = "s", metric: str = "val_error") -> StudyRecord:
    return StudyRecord(
        name=name, point={}, direction="minimize", metric=metric, search_space={}, trials=trials
    )


def clean_trial(number: int, value: float) -> TrialRecord:
    """A run with no finding at all: improving smoothly, late noise low, no spikes."""
    return trial(curves([0.60, 0.45, 0.35, 0.30, 0.29, 0.285]), number=number, value=value)


def test_clean_trial_has_no_findings() -> None:
    assert run_curve_checks([study([clean_trial(0, 0.285)])], CFG) == []


def test_run_curve_checks_looks_only_at_the_best_trials() -> None:
    best = clean_trial(0, 0.2)
    second = trial(curves(OVERFIT_ERRORS), number=1, value=0.3)
    failed = TrialRecord(
        number=2, state="failed", value=None, params={}, curves=curves(OVERFIT_ERRORS)
    )
    s = study([second, failed, best], name="wd=0")
    assert run_curve_checks([s], CFG) == []
    found = run_curve_checks([s], CFG, top_k=2)
    assert kinds(found) == ["overfitting"]  # minimum at step 150: not before half of 300
    assert all("trial 1" in f.message for f in found)
    assert_well_formed(found, study="wd=0")
    assert run_curve_checks([s], CFG, top_k=5) == found  # the failed trial is never checked


def test_run_curve_checks_covers_every_study_and_skips_trials_without_curves() -> None:
    overfit = study([trial(curves(OVERFIT_ERRORS), value=0.3)], name="a")
    unstored = study([trial(None, value=0.1)], name="b")
    found = run_curve_checks([overfit, unstored], CFG)
    assert {f.study for f in found} == {"a"}
    assert "overfitting" in kinds(found)


def test_run_curve_checks_reads_the_study_metric_curve() -> None:
    """A val_loss study is judged on its loss curve, where here the overfitting shows."""
    c = curves(CLEAN_ERRORS)
    c["val_loss"] = [1.0, 0.8, 0.70, 0.75, 0.80, 0.85]
    assert "overfitting" not in kinds(run_curve_checks([study([trial(c)])], CFG))
    by_loss = run_curve_checks([study([trial(c)], metric="val_loss")], CFG)
    assert "overfitting" in kinds(by_loss)
