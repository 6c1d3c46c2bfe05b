"""Programs tuned unchanged, their metrics read from their own output, as a user runs
them: the console script from the example's folder. ``lm_log`` prints log lines (read by
a regex and a preset), ``tb_log`` writes TensorBoard scalars, ``csv_log`` a CSV log, each
into the trial's own folder. ``python`` in the command is the orchestrator's interpreter
even where PATH's ``python`` is another one; a program whose output does not hold the
objective stops the round at its first trial; ``stage=metrics`` previews a saved log."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import optuna
import pytest

from tests.support.examples import EXAMPLES, run_example

SMALL = ("round.budget.trials_per_study=2", "round.promotion.seeds=2")


@pytest.fixture(scope="module")
def wrong_python(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A PATH whose ``python`` is not the orchestrator's (it fails as a bare one would)."""
    folder = tmp_path_factory.mktemp("bin")
    fake = folder / "python"
    fake.write_text("#!/bin/sh\necho \"No module named 'numpy'\" >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}


def _best(studies, study_name: str) -> optuna.trial.FrozenTrial:
    storage = f"sqlite:///{studies}/tuning.db"
    return optuna.load_study(study_name=study_name, storage=storage).best_trial


def test_log_lines_are_read_by_your_regex_and_a_preset_with_another_python_on_path(
    tmp_path, wrong_python
):
    done = run_example("lm_log", tmp_path, "round=lm_log_1", *SMALL, "epochs=3", env=wrong_python)
    assert done.returncode == 0, done.stderr[-3000:]
    best = _best(tmp_path, "lm_log_1/emsize=16")
    assert 1.0 < best.value < 30.0  # valid ppl, from '| end of epoch ... | valid ppl 7.29'
    curves = best.user_attrs["result"]["curves"]
    assert curves["eval_step"] == [1, 2, 3]
    assert len(curves["val_loss"]) == 3 and len(curves["train_loss"]) == 3  # loss: columns
    assert set(curves["metrics"]) >= {"valid_ppl", "ppl"} and curves["lr"][0] > 0
    assert "promotion of lm_log_1:" in done.stdout


@pytest.mark.parametrize(
    ("name", "study", "objective", "curve"),
    [("tb_log", "tb_log_1/batch-size=256", "val/acc", "val/acc"),
     ("csv_log", "csv_log_1/degree=9", "val_mse", "val_loss")],
)  # fmt: skip
def test_files_the_program_writes_in_its_trials_folder_are_read(
    tmp_path, name, study, objective, curve
):
    done = run_example(name, tmp_path, f"round={name}_1", *SMALL, "epochs=4")
    assert done.returncode == 0, done.stderr[-3000:]
    best = _best(tmp_path, study)
    assert best.value > 0
    curves = best.user_attrs["result"]["curves"]
    assert curves["eval_step"] == [1, 2, 3, 4]  # tb_log's epochs count from 0: read from 1
    values = curves["metrics"].get(curve) or curves[curve]
    assert len(values) == 4
    folder = tmp_path / "trials" / f"{name}_1" / study.split("/")[1] / str(best.number)
    written = list((folder / "runs").glob("events.out.tfevents*")) or [folder / "log.csv"]
    assert written[0].is_file()  # in the trial's own folder: parallel trials never collide


def test_output_without_the_objective_stops_the_round_at_its_first_trial(tmp_path):
    done = run_example("lm_log", tmp_path, "round=lm_log_1", *SMALL, "epochs=1",
                       "trainer.metrics.lines=[json]")  # fmt: skip
    assert done.returncode != 0
    assert "without the objective's metric 'valid_ppl'" in done.stderr
    assert "pattern 'json': matched no line" in done.stderr
    assert "| end of epoch   1 |" in done.stderr  # the lines it saw
    assert "the round stops here" in done.stderr
    storage = f"sqlite:///{tmp_path}/tuning.db"
    trials = [t for s in optuna.get_all_study_summaries(storage) for t in
              optuna.load_study(study_name=s.study_name, storage=storage).trials]  # fmt: skip
    assert len(trials) == 1  # not max_failures trials


def test_stage_metrics_previews_a_saved_log_before_any_trial(tmp_path):
    log = tmp_path / "saved.log"
    folder = EXAMPLES / "lm_log"
    with open(log, "w") as handle:
        subprocess.run([sys.executable, "train.py", "--epochs", "2"], cwd=folder,
                       stdout=handle, check=True, timeout=60)  # fmt: skip
    done = run_example("lm_log", tmp_path, "stage=metrics", f"metrics_log={log}")
    assert done.returncode == 0, done.stderr
    assert "pattern 'columns': 14 line(s), metrics loss, lr, ppl" in done.stdout
    assert "valid_ppl                     2         1..2" in done.stdout
    assert "objective valid_ppl (minimize): best" in done.stdout
    missed = run_example("lm_log", tmp_path, "stage=metrics", f"metrics_log={log}",
                         "objective.metric=bleu")  # fmt: skip
    assert missed.returncode == 1
    assert "objective bleu (minimize): NOT FOUND in loss, lr, ppl, val_loss, valid_ppl" in (
        missed.stdout
    )
    assert not (tmp_path / "tuning.db").exists()  # nothing was trained
