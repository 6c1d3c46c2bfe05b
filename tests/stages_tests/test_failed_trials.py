"""Failed trials in the terminal, through the real command line (issue 25).

A trainer that raises fails its trial, and the round goes on: the terminal shows one line
per failed trial (the error and where its traceback is), never Optuna's warning with the
whole traceback; the traceback is in the trial's own folder, ``traceback.txt``.
"""

from __future__ import annotations

import re
from pathlib import Path

import optuna

from tests.support.cli import run_own_config, write_own_config

CONFIG = {
    "defaults": ["orchestrator", "_self_"],
    "trainer": {"_target_": "tests.support.trainers.own_raises_above", "length_key": "epochs"},
    "objective": {"metric": "val_error", "direction": "minimize"},
    "lr": 0.1,
    "breaks_above": 0.2,
    "epochs": 3,
}
ROUND = {
    "name": "r1",
    "goal": "Which learning rate?",
    "start_from": "base",
    "nuisance": {"lr": {"low": 0.01, "high": 1.0, "log": True}},
    "budget": {"trials_per_study": 4, "max_failures": 10},
}
FAILED = re.compile(
    r"r1 trial (\d+): FAILED: ValueError: the loss exploded at lr \S+ \[lr=\S+\] \(\S+s\); "
    r"traceback in (\S+)$"
)


def test_each_failed_trial_is_one_line_and_its_traceback_is_in_its_folder(tmp_path: Path):
    studies = tmp_path / "studies"
    conf = write_own_config(tmp_path / "conf", CONFIG, [ROUND])
    done = run_own_config(conf, studies, "round=r1", "stage=work")
    assert done.returncode == 0, done.stderr
    terminal = done.stdout + done.stderr
    assert "Traceback" not in terminal and "failed with" not in terminal, terminal
    trials = optuna.load_study(study_name="r1", storage=f"sqlite:///{studies}/tuning.db").trials
    failed = [t.number for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert failed and len(failed) < len(trials)  # some failed, the round went on
    lines = [m for m in map(FAILED.search, terminal.splitlines()) if m]
    assert [int(m[1]) for m in lines] == failed  # one line per failed trial, none twice
    for m in lines:
        path = Path(m[2])
        assert path == studies.resolve() / "trials" / "r1" / m[1] / "traceback.txt"
        text = path.read_text()
        assert text.startswith("Traceback (most recent call last):")
        assert "in _helper_that_breaks" in text
        assert text.rstrip().splitlines()[-1].startswith("ValueError: the loss exploded at lr")
