"""The script example as a user runs it: an argparse script tuned as a command, its flags
in its own names, its per-epoch metrics read while it runs, through the console script."""

from __future__ import annotations

import optuna
import pytest
import yaml

from tests.support.examples import run_example

SMALL = ("round.budget.trials_per_study=3", "round.promotion.seeds=2", "epochs=8")


@pytest.fixture(scope="module")
def script_round(tmp_path_factory: pytest.TempPathFactory):
    studies = tmp_path_factory.mktemp("script")
    done = run_example("script", studies, "round=script_1", *SMALL, "lr=0.005")
    assert done.returncode == 0, done.stderr
    return studies, done.stdout


def test_the_script_is_tuned_end_to_end_as_a_command(script_round):
    studies, out = script_round
    assert "trainer command python train.py: objective val_acc (maximize)" in out
    storage = f"sqlite:///{studies}/tuning.db"
    study = optuna.load_study(study_name="script_1/features=512", storage=storage)
    assert study.user_attrs["trainer"] == "command python train.py"
    best = study.best_trial
    assert set(best.params) == {"lr", "l2"}
    assert 0.5 < best.value <= 1.0
    curves = best.user_attrs["result"]["curves"]
    assert curves["eval_step"] == list(range(1, 9))
    assert len(curves["val_loss"]) == 8 and len(curves["train_loss"]) == 8
    folder = studies / "trials" / "script_1" / "features=512" / str(best.number)
    stdout = (folder / "stdout.log").read_text()
    assert stdout.startswith("epoch 1: train_loss=") and "epoch 8:" in stdout
    assert (folder / "metrics.jsonl").read_text().count("\n") == 9  # 8 reports and the final
    assert "promotion of script_1: PROMOTED" in out  # lr=0.005 is far too low: beaten


def test_the_incumbent_holds_the_scripts_flags(script_round):
    studies, _ = script_round
    incumbent = yaml.safe_load((studies / "incumbent.yaml").read_text())
    assert incumbent["trainer"] == "command python train.py"
    assert set(incumbent["experiment"]) >= {"lr", "l2", "features", "epochs", "batch-size"}
    assert incumbent["experiment"]["lr"] > 0.005
