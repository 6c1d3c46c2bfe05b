"""A study given up after repeated identical crashes, through the real command line: the
message names the error and what would finish it; the same command again tries one failed
point, says nothing changed when it fails again, and finishes the round once it is fixed."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from orchestrator.rounds.point_index import point_index
from tests.support.cli import run_cli

ROUND = (
    "round=round_1", "stage=work", "round.budget.trials_per_study=2",
    "round.budget.racing=false",
)  # fmt: skip
BROKEN = "trainer._target_=tests.support.trainers.broken_while_marked"
STUDIES = [f"round_1/model.depth={d}" for d in (1, 2, 3)]


def trials(studies, name):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{studies}/tuning.db").trials


def test_a_given_up_study_says_what_would_finish_it_and_finishes_once_fixed(tmp_path, monkeypatch):
    marker = tmp_path / "broken"
    marker.write_text("the bug is still there")
    monkeypatch.setenv("ORCHESTRATOR_TEST_BROKEN", str(marker))
    studies = tmp_path / "studies"

    first = run_cli(studies, *ROUND, BROKEN)
    assert first.returncode == 1
    for name in STUDIES:
        assert (
            f"{name}: given up after 2 failed trials (round.budget.max_failures=2); the "
            "trainer raised ValueError: the data loader found no files in 2 of them "
            "(trials 0, 1). To finish it: fix that error in the trainer and run the same "
            "command again"
        ) in first.stderr
        assert "raise round.budget.max_failures above 2" in first.stderr
        assert [point_index(t) for t in trials(studies, name)] == [0, 1]  # each point once
    assert "run the same command again to resume" not in first.stderr

    again = run_cli(studies, *ROUND, BROKEN)  # nothing changed
    assert again.returncode == 1
    for name in STUDIES:
        assert f"{name} was given up after 2 failed trials" in again.stdout
        assert (
            f"{name}: given up again: its retried point failed with the same error "
            "(ValueError: the data loader found no files), so nothing changed since the "
            "last run and running the same command again will not finish it."
        ) in again.stderr
        failed = [t for t in trials(studies, name) if t.state == TrialState.FAIL]
        assert len(failed) == 3  # one look, not another round of failures

    marker.unlink()  # the user fixes the trainer
    fixed = run_cli(studies, *ROUND, BROKEN)
    assert fixed.returncode == 0, fixed.stderr
    clean = run_cli(tmp_path / "clean", *ROUND, BROKEN)  # never broken: the points to get
    assert clean.returncode == 0, clean.stderr
    for name in STUDIES:
        done = [t for t in trials(studies, name) if t.state == TrialState.COMPLETE]
        never_broken = trials(tmp_path / "clean", name)
        assert sorted(point_index(t) for t in done) == [0, 1]
        assert {point_index(t): t.params for t in done} == {
            point_index(t): t.params for t in never_broken
        }
