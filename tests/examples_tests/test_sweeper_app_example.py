"""The hydra-optuna-sweeper example as a user runs it: an app whose config selects the Optuna
sweeper (not installed here), its search space drafted into a round file by
``stage=from_sweeper``, then the shipped round (that draft, filled in) tuned end to end,
the app unchanged, through the console script.
"""

from __future__ import annotations

import shutil

import optuna
import pytest
import yaml

from tests.support.examples import EXAMPLES, run_example

SHIPPED = EXAMPLES / "sweeper_app" / "conf" / "round" / "sweeper_app_1.yaml"


@pytest.fixture(scope="module")
def drafted(tmp_path_factory: pytest.TempPathFactory):
    """The example's config dir without its round file, and the from_sweeper run on it."""
    conf = tmp_path_factory.mktemp("conf")
    shutil.copytree(EXAMPLES / "sweeper_app" / "conf", conf, dirs_exist_ok=True)
    shutil.rmtree(conf / "round")
    studies = tmp_path_factory.mktemp("studies")
    args = ("stage=from_sweeper", "round.name=sweeper_app_1")
    done = run_example("sweeper_app", studies, *args, conf=conf)
    assert done.returncode == 0, done.stderr
    return conf, studies, done


def test_from_sweeper_writes_the_search_space_as_a_round_to_fill_in(drafted):
    conf, _, done = drafted
    path = conf / "round" / "sweeper_app_1.yaml"
    assert f"wrote {path}: 5 nuisance parameters" in done.stdout
    assert "fill in: scientific" in done.stdout and "round=sweeper_app_1" in done.stdout
    text = path.read_text()
    assert "# Every swept parameter is nuisance below" in text
    assert "the sweeper ran 20 in all" in text and "objective.direction: maximize" in text
    draft = yaml.safe_load(text)
    shipped = yaml.safe_load(SHIPPED.read_text())
    assert draft["scientific"] == {}
    assert draft["nuisance"] == {  # the shipped round: the draft with its scientific moved out
        **shipped["nuisance"],
        "model.hidden_units": {"choices": [16, 32, 64]},
    }
    assert draft["budget"] == {"trials_per_study": 20, "sampler": "qmc", "seed": 123}
    assert "Migration" not in done.stderr and "version_base" not in done.stderr


def test_from_sweeper_never_replaces_a_round_file(drafted):
    conf, studies, _ = drafted
    path = conf / "round" / "sweeper_app_1.yaml"
    before = path.read_text()
    again = run_example("sweeper_app", studies, "stage=from_sweeper", "round.name=sweeper_app_1",
                        conf=conf)  # fmt: skip
    assert again.returncode == 2
    assert f"error: stage: {path} exists already and is kept" in again.stderr
    assert path.read_text() == before


def test_the_app_is_tuned_unchanged_end_to_end(tmp_path):
    small = ("round.budget.trials_per_study=3", "round.promotion.seeds=2")
    done = run_example("sweeper_app", tmp_path, "round=sweeper_app_1", *small)
    assert done.returncode == 0, done.stderr
    assert "trainer hydra_app sweep_task.main: objective val_accuracy (maximize)" in done.stdout
    assert "Migration" not in done.stderr and "version_base" not in done.stderr
    storage = f"sqlite:///{tmp_path}/tuning.db"
    names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage))
    assert names == [
        "sweeper_app_1/model.hidden_units=16",
        "sweeper_app_1/model.hidden_units=64",
        "sweeper_app_1/promotion",
    ]
    best = optuna.load_study(study_name=names[1], storage=storage).best_trial
    assert set(best.params) == {"model.activation", "optim.lr", "optim.alpha", "train.max_iter"}
    assert 0.5 < best.value <= 1.0  # real digits: far above chance (0.1)
    assert "promotion of sweeper_app_1:" in done.stdout


def test_a_trial_runs_in_its_own_process_too(tmp_path):
    done = run_example("sweeper_app", tmp_path, "stage=train", "trainer.subprocess=true")
    assert done.returncode == 0, done.stderr
    assert "val_accuracy=" in done.stdout
    assert "Migration" not in done.stderr and "version_base" not in done.stderr
