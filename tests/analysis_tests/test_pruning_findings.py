"""Pruned trials in the analysis: left out of the checks that need a final value, and said.

Planted: a study whose complete trials sit in the middle of the learning-rate range, and
whose pruned trials (no final value) sit at its high edge with the curves of winners so
far. A check that counted them would flag the edge; the pruned trials must change nothing
but the ``pruning`` finding.
"""

from __future__ import annotations

import dataclasses
import math

from orchestrator.analysis.importance import importance
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.pruning import pruning_findings
from orchestrator.analysis.run import analyze
from orchestrator.analysis.space_checks import boundary, density
from orchestrator.config.sections import AnalysisConfig

CFG = AnalysisConfig()
SPACE = {
    "optimizer.lr": [{"low": 1e-4, "high": 1.0, "log": True}],
    "optimizer.momentum": [{"low": 0.5, "high": 0.99, "log": False}],
}


def planted(sampler: str = "tpe", point: dict | None = None, pruner: str = "hyperband"):
    trials = []
    for i in range(12):  # complete, a bowl around lr = 0.01 in the middle of the log range
        lr = 10 ** (-2 + (i - 5.5) / 6)
        m = 0.5 + 0.04 * i
        value = 0.2 + (math.log10(lr) + 2) ** 2 * 0.05
        trials.append(TrialRecord(i, "complete", value, {"optimizer.lr": lr,
                                  "optimizer.momentum": m}, best_step=100, max_steps=100,
                                  steps=100))  # fmt: skip
    for j in range(6):  # pruned at the high edge of lr, stopped at step 10 of 100
        params = {"optimizer.lr": 0.95 - j * 0.01, "optimizer.momentum": 0.6}
        trials.append(TrialRecord(12 + j, "pruned", None, params, max_steps=100, steps=10))
    return StudyRecord("r/s", point or {}, "minimize", "val_error", SPACE, trials, sampler, pruner)


def without_pruned(study: StudyRecord) -> StudyRecord:
    return dataclasses.replace(study, trials=[t for t in study.trials if t.state != "pruned"])


def test_pruned_trials_change_no_boundary_density_or_importance_finding():
    study = planted()
    for check in (boundary, density, importance):
        assert check(study, CFG) == check(without_pruned(study), CFG), check.__name__
    assert boundary(study, CFG) == []  # the pruned trials at the edge are not an edge optimum


def test_pruning_in_an_exploitation_round_is_an_info_with_what_it_saved():
    (finding,) = pruning_findings([planted()])
    assert finding.kind == "pruning" and finding.severity == "info"
    assert finding.message == (
        "Pruner hyperband: 6 of 18 trials were pruned (540 steps not trained); the checks "
        "read the complete trials only."
    )


def test_pruning_in_an_exploration_round_is_a_warning_suggesting_none():
    for study in (planted(sampler="qmc"), planted(point={"model.depth": 2})):
        (finding,) = pruning_findings([study])
        assert finding.severity == "warn"
        assert finding.message.startswith("Pruner hyperband was on in an exploration round")
        assert finding.suggestion == {"round.budget.pruner": "none"}


def test_no_pruner_and_nothing_pruned_says_nothing():
    study = dataclasses.replace(without_pruned(planted()), pruner="none")
    assert pruning_findings([study]) == []
    assert not [f for f in analyze([study], CFG) if f.kind == "pruning"]


def test_a_qmc_round_with_a_pruner_warns_even_before_anything_is_pruned():
    study = without_pruned(planted(sampler="qmc"))
    (finding,) = pruning_findings([study])
    assert finding.severity == "warn" and "0 of 12 trials were pruned" in finding.message
