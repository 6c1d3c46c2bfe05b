"""The digits example as a user runs it: an own MLP, own keys, real data, the console script.

Everything goes through the installed ``orchestrator`` console script, run from
``examples/digits`` (so ``train_digits`` is imported from the working directory), with
the example's own config directory. A tiny budget keeps it to about half a minute.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import optuna
import pytest
import yaml

from tests.support.examples import EXAMPLES, run_example

EXAMPLE = EXAMPLES / "digits"
SMALL = ("round.budget.trials_per_study=3", "round.promotion.seeds=2", "epochs=6")


def orchestrator(
    studies: Path, *overrides: str, conf: Path = EXAMPLE / "conf", env: dict | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script from the example's directory, with its own config."""
    return run_example("digits", studies, *overrides, conf=conf, env=env)


@pytest.fixture(scope="module")
def digits_round(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    studies = tmp_path_factory.mktemp("digits")
    # a base learning rate far too low: the round's tuned candidate is clearly better
    done = orchestrator(studies, "round=digits_1", *SMALL, "optim.lr=0.00001")
    assert done.returncode == 0, done.stderr
    return studies, done.stdout


def test_the_round_runs_end_to_end_in_the_users_own_names(digits_round):
    studies, out = digits_round
    assert "trainer train_digits.train: objective val_accuracy (maximize)" in out
    assert "seed key seed, length key epochs" in out
    names = [
        s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{studies}/tuning.db")
    ]
    assert sorted(names) == [
        "digits_1/model.num_layers=1",
        "digits_1/model.num_layers=2",
        "digits_1/model.num_layers=3",
        "digits_1/promotion",
    ]
    study = optuna.load_study(study_name=names[0], storage=f"sqlite:///{studies}/tuning.db")
    assert study.user_attrs["trainer"] == "train_digits.train"
    assert study.user_attrs["start_config"]["model"]["hidden_units"] == 64
    trial = study.best_trial
    assert set(trial.params) == {"optim.lr", "optim.weight_decay"}
    assert 0.5 < trial.value <= 1.0  # real digits: well above chance (0.1)
    curves = trial.user_attrs["result"]["curves"]
    assert curves["eval_step"] == [1, 2, 3, 4, 5, 6] and len(curves["train_loss"]) == 6
    assert len(curves["metrics"]["val_accuracy"]) == 6
    assert "promotion of digits_1: PROMOTED" in out


def test_findings_draft_report_and_incumbent_speak_the_users_keys(digits_round):
    studies, _ = digits_round
    findings = json.loads((studies / "digits_1" / "findings.json").read_text())
    assert all("train.steps" not in json.dumps(f) for f in findings)
    draft = yaml.safe_load((studies / "digits_1" / "next_round.yaml").read_text())
    assert set(draft["nuisance"]) <= {"optim.lr", "optim.weight_decay"}
    assert "model.num_layers" in draft["scientific"]
    assert set(draft.get("fixed", {})) <= {"epochs", "optim.lr", "optim.weight_decay"}
    report = (studies / "digits_1" / "report.html").read_text()
    assert "optim.lr" in report and "model.num_layers" in report
    incumbent = yaml.safe_load((studies / "incumbent.yaml").read_text())
    assert incumbent["trainer"] == "train_digits.train"
    assert set(incumbent["experiment"]["model"]) == {"hidden_units", "num_layers", "dropout"}
    assert incumbent["experiment"]["optim"]["lr"] > 0.00001  # the tuned value


def test_history_names_the_round(digits_round):
    studies, _ = digits_round
    done = orchestrator(studies, "stage=history")
    assert done.returncode == 0, done.stderr
    assert "digits_1" in done.stdout


def test_resuming_the_round_with_another_trainer_is_refused(digits_round, tmp_path):
    studies, _ = digits_round
    (tmp_path / "other_trainer.py").write_text("def train(cfg, report=None):\n    return 0.5\n")
    before = (studies / "tuning.db").stat().st_mtime_ns
    done = orchestrator(
        studies, "round=digits_1", *SMALL, "round.start_from=base", "stage=work",
        "trainer._target_=other_trainer.train", env={"PYTHONPATH": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: round.start_from: round digits_1 was started as another round "
        "(round.start_from: incumbent -> base; trainer: train_digits.train -> other_trainer.train)"
    )
    assert (studies / "tuning.db").stat().st_mtime_ns == before


def own_conf_with(tmp_path: Path, round_file: str) -> Path:
    conf = tmp_path / "conf"
    shutil.copytree(EXAMPLE / "conf", conf)
    (conf / "round" / "bad.yaml").write_text(round_file)
    return conf


@pytest.mark.parametrize(
    ("overrides", "round_file", "message"),
    [
        (
            (),
            "name: bad\nscientific:\n  model.num_layer: [1, 2]\n",
            "round.scientific.model.num_layer: unknown parameter path 'model.num_layer'; "
            "did you mean model.num_layers?",
        ),
        (
            (),
            "name: bad\nnuisance:\n  model.hidden_units: {choices: [32, wide]}\n",
            "round.nuisance.model.hidden_units.choices[1]: "
            "model.hidden_units takes an int or null",
        ),
        (
            ("trainer._target_=no_such_module.train",),
            "name: bad\nscientific:\n  model.num_layers: [1, 2]\n",
            "trainer._target_: cannot import 'no_such_module.train' (No module named "
            "'no_such_module'); run from the directory that holds no_such_module, put that "
            "directory on PYTHONPATH",
        ),
        (
            ("trainer.seed_key=sed",),
            "name: bad\n",
            "trainer.seed_key: unknown parameter path 'sed'; did you mean seed?",
        ),
        (
            ("trainer.seed_key=null", "stage=promote"),
            "name: bad\nscientific:\n  model.num_layers: [1, 2]\n",
            "trainer.seed_key: promotion re-trains the candidate and the incumbent",
        ),
    ],
    ids=[
        "unknown own key",
        "wrong type",
        "trainer not importable",
        "unknown seed key",
        "no seed key for promotion",
    ],
)
def test_each_misconfiguration_is_one_error_before_anything_is_written(
    tmp_path, overrides, round_file, message
):
    studies = tmp_path / "studies"
    done = orchestrator(studies, "round=bad", *overrides, conf=own_conf_with(tmp_path, round_file))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: {message}")
    assert not studies.exists() or not any(p.name != "logs" for p in studies.iterdir())


def test_a_metric_the_trainer_never_reports_stops_the_round_with_one_error(tmp_path):
    studies = tmp_path / "studies"
    done = orchestrator(studies, "round=digits_1", *SMALL, "objective.metric=val_f1")
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert "never reported the objective's metric 'val_f1'" in last
    assert "it reported: train_loss, val_accuracy, val_examples, val_loss" in last
    trials = optuna.load_study(
        study_name="digits_1/model.num_layers=1", storage=f"sqlite:///{studies}/tuning.db"
    ).trials
    assert [t.state.name for t in trials] == ["FAIL"]  # one trial, not the whole budget
