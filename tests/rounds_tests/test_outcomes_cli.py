"""Every trial's outcome counted (issue 26), through the real command line.

Each test writes its own small config, round and function trainer to a temporary folder
and runs the installed ``orchestrator`` there, as a user would: a NaN reported after good
values makes the trial infeasible at that step; a value at which the trainer always raises
is a ``failed`` finding, in the answer, the report and the draft; a pruner that cut a
losing value's best trial makes the answer say the comparison is not an equal one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import yaml

from tests.support.cli import ROOT

TRAINER = """
def train(cfg, report):
    for epoch in range(1, cfg.epochs + 1):
        if cfg.act == "swish":
            raise KeyError("swish")
        loss = (cfg.lr - 0.1) ** 2 + 1.0 / epoch
        if cfg.lr > 0.5 and epoch >= 4:
            loss = float("nan")  # from epoch 4 on, as issue 26's trainer
        report(epoch, val_loss=loss, train_loss=loss)
    return None


def rungs(cfg, report):
    for epoch in range(1, cfg.epochs + 1):
        if cfg.act == "tanh":
            loss = 0.12 + 0.4 / epoch
        elif cfg.x < 0.2:  # relu's best region: dips to 0.1 at epoch 4, then overfits
            loss = 0.10 + 0.02 * abs(epoch - 4) + (0.01 * (epoch - 4) if epoch > 4 else 0.0)
        else:
            loss = 0.15 + 0.4 / epoch
        if report(epoch, val_loss=loss):
            break
"""


def own_round(tmp: Path, trainer: str, rnd: dict, **keys) -> Path:
    """The config folder: an own config of ``keys`` trained by ``mine.<trainer>``."""
    conf = tmp / "conf"
    (conf / "round").mkdir(parents=True)
    (tmp / "mine.py").write_text(TRAINER)
    config = {
        "defaults": ["orchestrator", "_self_"],
        "trainer": {"_target_": f"mine.{trainer}", "seed_key": "seed", "length_key": "epochs"},
        "objective": {"metric": "val_loss", "direction": "minimize"},
        **keys,
        "seed": 0,
    }
    (conf / "mine.yaml").write_text(yaml.safe_dump(config))
    (conf / "round" / f"{rnd['name']}.yaml").write_text(yaml.safe_dump(rnd))
    return conf


def orchestrator(tmp: Path, *overrides: str) -> str:
    """``orchestrator --config-dir conf --config-name mine ...`` in ``tmp``: its output."""
    script = shutil.which("orchestrator") or str(Path(sys.executable).parent / "orchestrator")
    done = subprocess.run(
        [script, "--config-dir", str(tmp / "conf"), "--config-name", "mine",
         f"paths.studies={tmp / 'studies'}", *overrides],
        cwd=tmp, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": f"{tmp}{os.pathsep}{ROOT}"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_a_nan_reported_after_good_values_makes_the_trial_infeasible_at_that_step(tmp_path):
    rnd = {"name": "nan_1", "goal": "Which lr?", "nuisance": {"lr": {"low": 0.01, "high": 1.0,
           "log": True}}, "budget": {"trials_per_study": 8, "sampler": "qmc"}}  # fmt: skip
    own_round(tmp_path, "train", rnd, lr=0.1, act="relu", epochs=6)
    out = orchestrator(tmp_path, "round=nan_1", "stage=work")
    assert (
        "nan_1 trial 6: infeasible: non-finite val_loss (nan) reported at step 4 [lr=0.5654]"
        in out
    )
    study = optuna.load_study(
        study_name="nan_1", storage=f"sqlite:///{tmp_path}/studies/tuning.db"
    )
    trial = study.trials[6]
    assert trial.constraints == {
        "diverged": 1.0
    }  # infeasible, as the built-in fit marks a diverged run
    assert trial.user_attrs["infeasible_reason"] == "non-finite val_loss (nan) reported at step 4"
    assert trial.user_attrs["result"]["diverged_step"] == 4
    assert trial.user_attrs["result"]["status"] == "diverged"
    out = orchestrator(tmp_path, "round=nan_1", "stage=analyze")
    assert (
        "INFO infeasible nan_1 1 of 8 finished trials (12%) were infeasible ('non-finite"
        " val_loss (nan) reported' at step 4)." in " ".join(out.split())
    )


def test_a_value_that_always_fails_is_counted_shown_and_dropped_from_the_draft(tmp_path):
    rnd = {"name": "act_1", "goal": "Which activation?",
           "nuisance": {"lr": {"low": 0.01, "high": 0.4, "log": True},
                        "act": {"choices": ["relu", "tanh", "swish"]}},
           "budget": {"trials_per_study": 10, "sampler": "qmc"}}  # fmt: skip
    own_round(tmp_path, "train", rnd, lr=0.1, act="relu", epochs=4)
    out = orchestrator(tmp_path, "round=act_1", "stage=work")
    assert "act_1 trial 1: FAILED: KeyError: 'swish' [act=swish lr=0.01487]" in out
    out = " ".join(orchestrator(tmp_path, "round=act_1", "stage=analyze").split())
    message = (
        "5 of 15 trials (33%) failed with KeyError: 'swish' (trials 1, 2, 5, 10, 13); all 5"
        " trials with act=swish failed this way and its other values ran, so drop swish from"
        " act's choices."
    )
    assert f"failed: {message}" in out  # the answer: it touches the winner (the one study)
    assert f"WARN failed act_1, act {message}" in out  # the findings table
    draft = (tmp_path / "studies" / "act_1" / "next_round.yaml").read_text()
    assert f"act: choices ['relu', 'tanh', 'swish'] -> ['relu', 'tanh'] (failed: {message})" in (
        draft
    )
    assert yaml.safe_load(draft)["nuisance"]["act"] == {"choices": ["relu", "tanh"]}
    report = (tmp_path / "studies" / "act_1" / "report.html").read_text()
    assert '<h2 data-section="failures">Failed trials</h2>' in report
    assert "<summary>KeyError: &#x27;swish&#x27;</summary>" in report
    assert "1: act=swish lr=0.01487<br>" in report


UNMEASURED = (
    "(noise not measured: no repeated config or seed rerun; seed reruns measure it "
    "(stage=promote, or repeat a config))"
)


def test_a_pruned_trial_that_beat_the_winner_makes_the_answer_say_so(tmp_path):
    rnd = {"name": "p1", "goal": "relu or tanh?", "scientific": {"act": ["relu", "tanh"]},
           "nuisance": {"x": {"low": 0.0, "high": 1.0}},
           "budget": {"trials_per_study": 6, "sampler": "qmc", "pruner": "successive_halving",
                      "pruner_min_resource": 4, "pruner_reduction_factor": 2,
                      "racing": False}}  # fmt: skip
    own_round(tmp_path, "rungs", rnd, x=0.5, act="relu", epochs=10)
    out = orchestrator(tmp_path, "round=p1", "stage=work")
    assert "p1/act=relu trial 3: pruned at step 8 [x=0.1534]" in out
    out = orchestrator(tmp_path, "round=p1", "stage=analyze")
    assert (
        f"    1. p1/act=tanh: 0.16 {UNMEASURED}   [not an equal comparison (pruned) to the next]\n"
        f"    2. p1/act=relu: 0.19 {UNMEASURED}\n"  # a deterministic function: nothing repeated
        "  trust: the winner p1/act=tanh leads (noise not measured) the runner-up on complete"
        " trials only, not"
        " of a trial pruning cut short (below): the comparison is not an equal one\n"
        "  trust: pruning cut trial 3 of p1/act=relu at step 8 after it reached 0.1 at step 4,"
        " better than its best complete trial (0.19); the ranking compares complete trials"
        " only, so it is not an equal comparison\n"
    ) in out
