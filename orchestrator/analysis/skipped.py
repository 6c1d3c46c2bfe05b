"""Saying which checks had nothing to read, and why, instead of staying silent.

A user's own trainer reports what it reports: without a training loss the curve checks on
it cannot run; without a validation loss or error curve the validation-curve checks cannot;
without the step of its best value, or without a named length key, the step-budget check
cannot. Silence would read as "checked, all fine", so each gap is an ``info`` finding of
kind ``skipped`` that names the checks and how to feed them.
"""

from __future__ import annotations

from orchestrator.analysis.curve_series import (
    EVAL_METRICS,
    MIN_LATE_POINTS,
    curve_values,
    eval_series,
    n_steps,
)
from orchestrator.analysis.edge_trend import range_paths, trials_needed
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.round_checks import MIN_SPREAD_EVALS, evaluated_along
from orchestrator.store.findings import Finding, Kind, Severity

LOSS_CHECKS = "overfitting, training_loss_rising, instability"
EVAL_CHECKS = "overfitting, still_improving, saturated_early, late_variance"
NO_TRAINING_LOSS = (
    f"The training-loss checks ({LOSS_CHECKS}) were skipped: the best trials have "
    "no train_loss curve. Report it from your trainer: report(step, train_loss=...), "
    "or name yours: trainer.curves.train_loss=<your metric>."
)
NO_VALIDATION_CURVE = (
    f"The validation-curve checks ({EVAL_CHECKS}) were skipped: the best trials "
    "have no val_loss or val_error curve. Report one at each evaluation: "
    "report(step, val_loss=...), or name yours: trainer.curves.val_loss=<your metric>."
)


def _boundary_unfitted(study: StudyRecord) -> bool:
    """A study with range params and complete trials, but too few for the edge-trend fit."""
    paths = range_paths(study)
    complete = len(study.complete())
    return bool(paths) and 0 < complete < trials_needed(len(paths))


def late_evaluations(trial: TrialRecord, late_fraction: float) -> int:
    """How many finite evaluations fall in the last ``late_fraction`` of the trial's
    training (what the late_variance check reads)."""
    curves = trial.curves or {}
    _, steps, _ = eval_series(curves, "val_error")
    return int((steps > (1.0 - late_fraction) * n_steps(trial, curves)).sum())


def skipped_checks(
    studies: list[StudyRecord], length_key: str | None, late_fraction: float = 0.25
) -> list[Finding]:
    """One ``skipped`` finding per kind of missing data among the studies' best trials."""
    best = [t for s in studies for t in s.ranked()[:1]]
    if not best:
        return []
    notes = (
        None if _has_any(best, ("train_loss",)) else NO_TRAINING_LOSS,
        None if _has_any(best, EVAL_METRICS) else NO_VALIDATION_CURVE,
        _boundary_unfitted_note(studies),
        _late_variance_note(best, late_fraction),
        _step_budget_note(best, length_key),
    )
    return [_skipped(note) for note in notes if note]


def _has_any(best: list[TrialRecord], names: tuple[str, ...]) -> bool:
    """Whether any of the best trials has any of the curves ``names``."""
    return any(_has(t, m) for t in best for m in names)


def _boundary_unfitted_note(studies: list[StudyRecord]) -> str | None:
    short = [s for s in studies if _boundary_unfitted(s)]
    if not short:
        return None
    needed = {s.name: trials_needed(len(range_paths(s))) for s in short}
    return (
        "The boundary check was skipped on "
        + ", ".join(
            f"{s.name} ({len(s.complete())} complete trials of {needed[s.name]})" for s in short
        )
        + ": it fits the objective's trend over the tuned ranges and needs two trials "
        "per range param plus three. Run more trials (budget.trials_per_study)."
    )


def _late_variance_note(best: list[TrialRecord], late_fraction: float) -> str | None:
    late = [t for t in best if late_evaluations(t, late_fraction) < MIN_LATE_POINTS]
    if not late or not _has_any(best, EVAL_METRICS):
        return None
    counts = sorted({late_evaluations(t, late_fraction) for t in late})
    return (
        f"The late_variance check was skipped on {len(late)} best trial"
        f"{'s' if len(late) > 1 else ''}: {' or '.join(map(str, counts))} evaluations in "
        f"the last {late_fraction:.0%} of training, fewer than {MIN_LATE_POINTS}. "
        "Evaluate more often to judge it (train.eval_every for the built-in trainer)."
    )


def _step_budget_note(best: list[TrialRecord], length_key: str | None) -> str | None:
    """Why the step-budget check could not judge: no length named, no best step, or
    evaluations too few or too late to place it."""
    if length_key is None:
        return (
            "The step-budget check was skipped: no training length is named. Set "
            "trainer.length_key to the key of your training length (steps, epochs)."
        )
    if all(t.best_step is None for t in best):
        return (
            "The step-budget check was skipped: no trial says at which step its best value "
            "came. Report the objective's metric per step or epoch: report(step, metric=...)."
        )
    if not any(evaluated_along(t) for t in best):
        return (
            f"The step-budget check was skipped: the best trials evaluated fewer than "
            f"{MIN_SPREAD_EVALS} times, or only late in training, so their best step is "
            "wherever the evaluations were. Evaluate along the run (report(step, metric=...) "
            "every few steps or epochs; train.eval_every for the built-in trainer)."
        )
    return None


def _has(trial: TrialRecord, curve: str) -> bool:
    return any(v is not None for v in curve_values(trial.curves or {}, curve))


def _skipped(message: str) -> Finding:
    return Finding(
        kind=Kind.SKIPPED,
        severity=Severity.INFO,
        message=message,
        study=None,
        param=None,
        suggestion={},
    )
