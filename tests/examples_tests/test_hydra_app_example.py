"""The Hydra-app example as a user runs it: a lightning-hydra-template-style app on the
real digits data, tuned without changing it, through the console script.

The app's `trainer` group (`trainer=fast`: 5 epochs) is picked through the orchestrator's
`trainer.overrides`, beside the orchestrator's own `trainer` section: no clash.
"""

from __future__ import annotations

import json

import optuna
import pytest
import yaml

from tests.support.examples import run_example

SMALL = (
    "round.budget.trials_per_study=3",
    "round.promotion.seeds=2",
    "trainer.overrides=['trainer=fast']",
)


@pytest.fixture(scope="module")
def app_round(tmp_path_factory: pytest.TempPathFactory):
    studies = tmp_path_factory.mktemp("hydra_app")
    done = run_example("hydra_app", studies, "round=hydra_app_1", *SMALL)
    assert done.returncode == 0, done.stderr
    return studies, done.stdout


def test_the_app_is_tuned_end_to_end_in_its_own_names(app_round):
    studies, out = app_round
    assert "trainer hydra_app src.train.main: objective val/acc (maximize)" in out
    assert "seed key seed, length key trainer.max_epochs" in out
    storage = f"sqlite:///{studies}/tuning.db"
    names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage))
    assert names == [
        "hydra_app_1/model.net.num_layers=1",
        "hydra_app_1/model.net.num_layers=2",
        "hydra_app_1/promotion",
    ]
    study = optuna.load_study(study_name=names[0], storage=storage)
    start = study.user_attrs["start_config"]
    assert start["trainer"]["max_epochs"] == 5  # the app's own trainer group, made fast
    assert start["paths"]["output_dir"] == "${hydra:runtime.output_dir}"  # the app resolves it
    best = study.best_trial
    assert set(best.params) == {"model.optimizer.lr", "model.optimizer.weight_decay"}
    assert 0.5 < best.value <= 1.0  # real digits: far above chance (0.1)
    curves = best.user_attrs["result"]["curves"]
    assert curves["eval_step"] == [1, 2, 3, 4, 5]  # reported per epoch through trial_report
    assert len(curves["metrics"]["val/acc"]) == 5
    # trainer.curves names the app's train/loss and val/loss for the curve checks
    assert len(curves["train_loss"]) == 5 and len(curves["val_loss"]) == 5
    folder = studies / "trials" / "hydra_app_1" / "model.net.num_layers=1" / str(best.number)
    assert json.loads((folder / "metrics.json").read_text())["val/acc"] == best.value
    assert "promotion of hydra_app_1:" in out


def test_findings_report_draft_and_incumbent_speak_the_apps_keys(app_round):
    studies, _ = app_round
    findings = (studies / "hydra_app_1" / "findings.json").read_text()
    assert "train.steps" not in findings
    report = (studies / "hydra_app_1" / "report.html").read_text()
    assert "model.optimizer.lr" in report and "model.net.num_layers" in report
    draft = yaml.safe_load((studies / "hydra_app_1" / "next_round.yaml").read_text())
    assert set(draft["nuisance"]) <= {"model.optimizer.lr", "model.optimizer.weight_decay"}
    incumbent_file = studies / "incumbent.yaml"
    if incumbent_file.exists():  # promoted (the base learning rate is usually beaten)
        incumbent = yaml.safe_load(incumbent_file.read_text())
        assert incumbent["trainer"] == "hydra_app src.train.main"
        assert set(incumbent["experiment"]["model"]) == {"optimizer", "net"}
