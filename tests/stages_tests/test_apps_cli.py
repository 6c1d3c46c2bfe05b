"""A Hydra app and a command as the trainer, through the real command line.

The orchestrator's config lives in a folder of the test's own (as a user's would); the
app is ``tests/support/tiny_app`` and the command ``tests/support/child_script.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

from tests.support.cli import ROOT
from tests.trainers_tests.test_child_trainer import SCRIPT, wait_until_gone

APP = {
    "defaults": ["orchestrator", "_self_"],
    "trainer": {
        "kind": "hydra_app",
        "_target_": "tests.support.tiny_app.app.main",
        "overrides": ["trainer=long"],
        "seed_key": "seed",
        "length_key": "trainer.epochs",
    },
    "objective": {"metric": "loss", "direction": "minimize"},
}
APP_ROUND = {
    "name": "tiny_1",
    "goal": "Does momentum matter?",
    "scientific": {"optim.momentum": [0.0, 0.9]},
    "nuisance": {"optim.lr": {"low": 0.01, "high": 1.0, "log": True}},
    "budget": {"trials_per_study": 4, "sampler": "qmc"},
    "promotion": {"seeds": 2},
}


def write_conf(tmp: Path, name: str, config: dict, rnd: dict) -> Path:
    conf = tmp / "conf"
    (conf / "round").mkdir(parents=True, exist_ok=True)
    (conf / f"{name}.yaml").write_text(yaml.safe_dump(config))
    (conf / "round" / f"{rnd['name']}.yaml").write_text(yaml.safe_dump(rnd))
    return conf


def command(conf: Path, name: str, studies: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator", "--config-dir", str(conf), "--config-name",
            name, f"paths.studies={studies}", *overrides]  # fmt: skip


def start(argv: list[str]) -> subprocess.Popen:
    """The command line started in the background, from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)  # fmt: skip


def run(conf: Path, name: str, studies: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(conf, name, studies, *overrides),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_a_hydra_app_is_tuned_as_it_is_in_its_own_names(tmp_path):
    conf = write_conf(tmp_path, "tiny", APP, APP_ROUND)
    studies = tmp_path / "studies"
    done = run(conf, "tiny", studies, "round=tiny_1")
    assert done.returncode == 0, done.stderr
    assert "trainer hydra_app tests.support.tiny_app.app.main: objective loss (minimize)" in (
        done.stdout
    )
    assert "seed key seed, length key trainer.epochs" in done.stdout
    storage = f"sqlite:///{studies}/tuning.db"
    study = optuna.load_study(study_name="tiny_1/optim.momentum=0.9", storage=storage)
    assert study.user_attrs["trainer"] == "hydra_app tests.support.tiny_app.app.main"
    assert study.user_attrs["start_config"]["optim"]["max_lr"] == "${optim.lr}"
    best = study.best_trial
    assert set(best.params) == {"optim.lr"}
    assert best.user_attrs["result"]["curves"]["eval_step"] == [1, 2, 3, 4, 5, 6]  # trainer=long
    trial_dir = studies / "trials" / "tiny_1" / "optim.momentum=0.9" / str(best.number)
    assert (trial_dir / "seen.json").exists()  # the app's ${hydra:runtime.output_dir}
    assert "promotion of tiny_1:" in done.stdout
    findings = (studies / "tiny_1" / "findings.json").read_text()
    assert "train.steps" not in findings


def test_an_app_whose_config_does_not_compose_is_one_error_and_nothing_is_written(tmp_path):
    conf = write_conf(tmp_path, "tiny", APP, APP_ROUND)
    studies = tmp_path / "studies"
    done = run(conf, "tiny", studies, "round=tiny_1", "trainer.overrides=['optim=adam']")
    assert done.returncode == 2
    error = done.stderr[done.stderr.index("error: ") :]  # one error, Hydra's message whole
    assert error.startswith("error: trainer.overrides: the app's config 'main' in ")
    assert "does not compose with overrides ['optim=adam']" in error
    assert "Could not find 'optim/adam'" in error and "Available options in 'optim'" in error
    assert not (studies / "tuning.db").exists() and not (studies / "tiny_1").exists()


def test_keys_of_its_own_beside_an_app_are_refused(tmp_path):
    conf = write_conf(tmp_path, "tiny", {**APP, "lr": 0.1}, APP_ROUND)
    done = run(conf, "tiny", tmp_path / "studies", "round=tiny_1")
    assert done.returncode == 2
    assert "error: lr: is not the app's" in done.stderr


COMMAND = {
    "defaults": ["orchestrator", "_self_"],
    "trainer": {
        "kind": "command",
        "command": f"{sys.executable} {SCRIPT}",
        "args": "argparse",
        "seed_key": "seed",
        "length_key": "steps",
    },
    "objective": {"metric": "loss", "direction": "minimize"},
    "mode": "ok", "x": 0.5, "steps": 4, "seed": 0, "delay": 0.0, "pids": "",
}  # fmt: skip
COMMAND_ROUND = {
    "name": "cmd_1",
    "scientific": {"steps": [3, 5]},
    "nuisance": {"x": {"low": 0.0, "high": 1.0}},
    "budget": {"trials_per_study": 2, "sampler": "qmc"},
}


def test_failing_commands_fail_their_trials_and_the_round_goes_on(tmp_path):
    conf = write_conf(tmp_path, "cmd", {**COMMAND, "mode": "fail"}, COMMAND_ROUND)
    studies = tmp_path / "studies"
    run(conf, "cmd", studies, "round=cmd_1", "stage=work")
    storage = f"sqlite:///{studies}/tuning.db"
    for name in ("cmd_1/steps=3", "cmd_1/steps=5"):  # both studies tried
        trials = optuna.load_study(study_name=name, storage=storage).trials
        assert trials and all(t.state == TrialState.FAIL for t in trials)
        error = trials[0].user_attrs["error"]
        assert error.startswith("ChildTrialFailed: exited with code 3; stderr ends:")
        assert "ValueError: bad batch" in error


def test_sigterm_to_the_worker_stops_the_command_and_its_children(tmp_path):
    pids = tmp_path / "pids"
    config = {**COMMAND, "mode": "hang", "pids": str(pids)}
    conf = write_conf(tmp_path, "cmd", config, COMMAND_ROUND)
    studies = tmp_path / "studies"
    proc = start(command(conf, "cmd", studies, "round=cmd_1", "stage=work"))
    deadline = time.monotonic() + 120
    while len(list(pids.glob("*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the child and its own child are running
    assert len(list(pids.glob("*"))) == 2
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert wait_until_gone(pids) == []  # no orphan: the child and its child both stopped
    trials = optuna.load_study(
        study_name="cmd_1/steps=3", storage=f"sqlite:///{studies}/tuning.db"
    ).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]  # and retried
    assert trials[0].user_attrs["error"] == "interrupted by SIGTERM; queued again"


def test_an_app_that_changes_directory_still_writes_to_the_store_it_was_given(tmp_path):
    # hydra.job.chdir: the app runs in its trial's folder, while the store, the journal and
    # the artifacts are named relative to where the orchestrator started (tmp_path)
    conf = write_conf(tmp_path, "tiny", APP, APP_ROUND)
    for storage in ("sqlite", "journal"):
        done = subprocess.run(
            command(conf, "tiny", Path(storage), "round=tiny_1", "stage=work",
                    "round.budget.trials_per_study=2", f"storage={storage}",
                    "trainer.overrides=['trainer=long','hydra.job.chdir=true']"),
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("2/2") == 2
        trials = tmp_path / storage / "trials"
        seen = list(trials.rglob("seen.json"))
        assert len(seen) == 4
        assert all(json.loads(p.read_text())["cwd"] == str(p.parent) for p in seen)
        assert not [p for p in trials.rglob("*") if p.suffix in (".db", ".log")]


def test_sigterm_during_promotion_reruns_stops_the_command_too(tmp_path):
    pids = tmp_path / "pids"
    config = {**COMMAND, "mode": "hang_reruns", "pids": str(pids)}
    rnd = {**COMMAND_ROUND, "promotion": {"seeds": 2}}
    conf = write_conf(tmp_path, "cmd", config, rnd)
    studies = tmp_path / "studies"
    proc = start(command(conf, "cmd", studies, "round=cmd_1"))
    deadline = time.monotonic() + 180
    while not list(pids.glob("*.grandchild")) and time.monotonic() < deadline:
        time.sleep(0.1)  # a rerun (seed 1) is running, with its own child
    assert list(pids.glob("*.grandchild")), "no rerun started"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "stopped by SIGTERM" in err
    assert wait_until_gone(pids) == []
    reruns = optuna.load_study(
        study_name="cmd_1/promotion", storage=f"sqlite:///{studies}/tuning.db"
    )
    assert [t.state for t in reruns.trials] == [TrialState.FAIL]  # FAIL, not left RUNNING
