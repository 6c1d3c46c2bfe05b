"""A round is a contract, through the real command line (issue 26).

A round resumed with any change to what its trials mean is one error showing the
difference and the ways on; every check that can fail before a trial runs, runs before
the first; an unreadable config file or an interrupt is one line. Each case asserts the
exact message, the exit code, and that nothing stored was changed: the studies and their
trials, ``round.yaml`` byte for byte.

The fault corpus runs its cases at the same time (one process each, on a private copy of
one started round), so the corpus costs what its processes' start-up costs on the cores.
(A grid value of the wrong type is the same check: ``tests/rounds_tests/test_own_keys.py``.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from tests.support.cli import ROOT

CONFIG = {
    "defaults": ["orchestrator", "_self_"],
    "trainer": {
        "_target_": "tests.support.trainers.own_noop",
        "seed_key": "seed",
        "length_key": "epochs",
    },
    "objective": {"metric": "val_error", "direction": "minimize"},
    "net": {"act": "relu", "blocks": 2},
    "lr": 0.1,
    "epochs": 3,
    "seed": 0,
}
ROUND = {
    "name": "r1",
    "goal": "Does the activation matter?",
    "start_from": "base",
    "scientific": {"net.act": ["relu", "tanh"]},
    "nuisance": {"lr": {"low": 0.01, "high": 1.0, "log": True}},
    "fixed": {"epochs": 3},
    "budget": {"trials_per_study": 2, "sampler": "qmc", "seed": 0},
    "promotion": {"seeds": 2},
}
INTS = {"name": "r2", "scientific": {"net.blocks": [1, 2.5]}}  # net.blocks: 2 (an int)
STUDIES = ("r1/net.act=relu", "r1/net.act=tanh")
TAGGED = "name: bad\ngoal: x\nscientific:\n  net.act: !!python/object/apply:os.system [echo hi]\n"
WAYS = (
    "its studies keep what they were started with. Either restore the round as it was "
    "(kept in {record}), or give this one a new name (round.name=r1_2): a new round starts "
    "its own studies (with budget.sampler tpe or gp it would start from the earlier round's "
    "trials that fit)"
)


def write_conf(tmp: Path) -> Path:
    conf = tmp / "conf"
    (conf / "round").mkdir(parents=True, exist_ok=True)
    (conf / "mine.yaml").write_text(yaml.safe_dump(CONFIG))
    (conf / "round" / "r1.yaml").write_text(yaml.safe_dump(ROUND, sort_keys=False))
    (conf / "round" / "bad.yaml").write_text(TAGGED)
    (conf / "round" / "r2.yaml").write_text(yaml.safe_dump(INTS, sort_keys=False))
    return conf


def argv(conf: Path, studies: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator", "--config-dir", str(conf), "--config-name",
            "mine", f"paths.studies={studies}", *overrides]  # fmt: skip


def _as_from_a_terminal() -> None:
    """SIGINT as a terminal's foreground command has it: a suite started in the background
    (``nohup pytest &``) passes on an ignored SIGINT, and Python then never raises
    KeyboardInterrupt, so an interrupt test would see its command run to the end."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(conf: Path, studies: Path, *overrides: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(argv(conf, studies, *overrides), cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_as_from_a_terminal)  # fmt: skip


def run(conf: Path, studies: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    proc = start(conf, studies, *overrides)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def stored(studies: Path) -> dict[str, list[tuple[int, str, dict]]]:
    """Every study of the store and its trials (number, state, params): what must not change."""
    if not (studies / "tuning.db").exists():
        return {}
    url = f"sqlite:///{studies}/tuning.db"
    return {
        s.study_name: [
            (t.number, t.state.name, t.params)
            for t in optuna.load_study(study_name=s.study_name, storage=url).trials
        ]
        for s in optuna.get_all_study_summaries(url, include_best_trial=False)
    }


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one line on stderr (asserted to be the only one, with no traceback)."""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Round r1 worked once: the config folder and its store (never written by a case)."""
    tmp = tmp_path_factory.mktemp("contract")
    conf, studies = write_conf(tmp), tmp / "studies"
    done = run(conf, studies, "round=r1", "stage=work")
    assert done.returncode == 0, done.stderr
    assert {k: len(v) for k, v in stored(studies).items()} == dict.fromkeys(STUDIES, 2)
    return conf, studies


# case -> (overrides, the error line with {record} for the round's round.yaml)
CORPUS: dict[str, tuple[list[str], str]] = {
    "changed scientific value": (
        ["round=r1", "stage=work", "round.scientific={net.act:[relu,gelu]}"],
        "error: round.scientific.net.act: round r1 was started as another round "
        "(round.scientific.net.act: [relu, tanh] -> [relu, gelu]); " + WAYS,
    ),
    "changed range": (
        ["round=r1", "stage=work", "round.nuisance.lr.high=2.0"],
        "error: round.nuisance.lr: round r1 was started as another round (round.nuisance.lr: "
        "[{low: 0.01, high: 1.0, log: true}] -> [{low: 0.01, high: 2.0, log: true}]); " + WAYS,
    ),
    "changed sampler seed": (
        ["round=r1", "stage=run", "round.budget.seed=7"],
        "error: round.budget.seed: round r1 was started as another round "
        "(round.budget.seed: 0 -> 7); " + WAYS,
    ),
    "changed fixed value": (
        ["round=r1", "stage=work", "round.fixed.epochs=4"],
        "error: round.fixed.epochs: round r1 was started as another round "
        "(round.fixed.epochs: 3 -> 4); " + WAYS,
    ),
    "changed trainer": (
        ["round=r1", "stage=work", "trainer._target_=tests.support.trainers.planted_curve"],
        "error: trainer: round r1 was started as another round (trainer: "
        "tests.support.trainers.own_noop -> tests.support.trainers.planted_curve); " + WAYS,
    ),
    "changed sampler, analyzed": (
        ["round=r1", "stage=analyze", "round.budget.sampler=random"],
        "error: round.budget.sampler: round r1 was started as another round "
        "(round.budget.sampler: qmc -> random); " + WAYS,
    ),
    "float for an int key": (
        ["round=r2", "stage=work"],
        "error: round.scientific.net.blocks[1]: net.blocks takes an int or null; got 2.5 "
        "(its default in your config is an int; if it takes real numbers, write its default "
        "as one, e.g. 2.0)",
    ),
    "YAML tag in a round file": (
        ["round=bad", "stage=work"],
        "error: {conf}/round/bad.yaml line 4: YAML tags such as !!python/object/apply:os.system"
        " are not allowed (a config holds plain values: numbers, text, lists, mappings)",
    ),
}


@pytest.fixture(scope="module")
def corpus(started: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every case run at once, each on its own copy of the started store."""
    conf, studies = started
    procs = {}
    for case, (overrides, _) in CORPUS.items():
        copy = tmp_path_factory.mktemp("case") / "studies"
        shutil.copytree(studies, copy)
        procs[case] = (copy, start(conf, copy, *overrides))
    out = {}
    for case, (copy, proc) in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        out[case] = (copy, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return out


@pytest.mark.parametrize("case", list(CORPUS))
def test_a_fault_is_one_clear_error_and_nothing_stored_changes(case, started, corpus):
    conf, studies = started
    copy, proc = corpus[case]
    record = copy / "r1" / "round.yaml"
    expected = CORPUS[case][1].replace("{record}", str(record)).replace("{conf}", str(conf))
    assert proc.returncode == 2, proc.stderr
    assert error_line(proc) == expected
    assert stored(copy) == stored(studies)  # no study created, no trial run or lost
    assert record.read_bytes() == (studies / "r1" / "round.yaml").read_bytes()
    assert not any((copy / name).exists() for name in ("r2", "bad"))


def test_a_resumed_round_may_grow_its_budget_and_records_its_identity(started, tmp_path):
    conf, studies = started
    copy = tmp_path / "studies"
    shutil.copytree(studies, copy)
    done = run(conf, copy, "round=r1", "stage=work", "round.budget.trials_per_study=3")
    assert done.returncode == 0, done.stderr
    assert {k: len(v) for k, v in stored(copy).items()} == dict.fromkeys(STUDIES, 3)
    study = optuna.load_study(study_name=STUDIES[0], storage=f"sqlite:///{copy}/tuning.db")
    identity = study.user_attrs["identity"]
    assert identity["scientific"] == {"net.act": ["relu", "tanh"]}
    assert identity["sampler"] == "qmc" and identity["seed"] == 0
    assert identity["trainer"] == "tests.support.trainers.own_noop"
    assert yaml.safe_load((copy / "r1" / "round.yaml").read_text())["identity"] == identity


def promoted_elsewhere(studies: Path) -> None:
    """An incumbent promoted under another trainer, as a person's earlier round left it."""
    studies.mkdir(parents=True)
    document = {"promoted_by": "r0", "trainer": "other.train", "experiment": {"lr": 0.3}}
    (studies / "incumbent.yaml").write_text(yaml.safe_dump(document))


def test_an_incumbent_of_another_trainer_is_refused_before_any_trial(tmp_path):
    conf, studies = write_conf(tmp_path), tmp_path / "studies"
    promoted_elsewhere(studies)
    incumbent = studies / "incumbent.yaml"
    run_base = run(conf, studies, "round=r1", "stage=run")  # start_from: base, promotion after
    assert run_base.returncode == 2
    assert error_line(run_base) == (
        f"error: trainer._target_: {incumbent} was promoted with trainer other.train, and this "
        "round trains with tests.support.trainers.own_noop; promotion re-trains it as the "
        "config to beat, and its values may not mean the same to another trainer. Either use "
        "its trainer (trainer._target_=other.train), or train and analyse without promotion "
        "(round.promote=false), or keep this trainer's rounds in a store of their own "
        "(paths.studies=DIR)"
    )
    assert "round.start_from=base" not in run_base.stderr  # already set: never advised
    work = run(conf, studies, "round=r1", "stage=work", "round.start_from=incumbent")
    assert work.returncode == 2
    assert error_line(work).endswith(
        "this round starts from it, and its values may not mean the same to another trainer. "
        "Either use its trainer (trainer._target_=other.train), or start from your base config "
        "(round.start_from=base)"
    )
    assert sorted(p.name for p in studies.iterdir()) == ["incumbent.yaml", "logs"]
    assert list(studies.glob("logs/*/*")) == []  # nothing written: no study, no run folder


def test_promotion_without_a_seed_key_is_refused_before_anything_is_written(tmp_path):
    conf, studies = write_conf(tmp_path), tmp_path / "studies"
    done = run(conf, studies, "round=r1", "stage=promote", "trainer.seed_key=null")
    assert done.returncode == 2
    assert error_line(done).startswith(
        "error: trainer.seed_key: promotion re-trains the candidate and the incumbent"
    )
    assert not studies.exists() or stored(studies) == {}


def test_an_unreadable_incumbent_file_is_one_line(tmp_path):
    conf, studies = write_conf(tmp_path), tmp_path / "studies"
    studies.mkdir()
    (studies / "incumbent.yaml").write_text(
        "promoted_by: r0\nexperiment: !!python/name:os.system\n"
    )
    done = run(conf, studies, "round=r1", "stage=work", "round.start_from=incumbent")
    assert done.returncode == 2
    assert error_line(done) == (
        f"error: {studies}/incumbent.yaml line 2: YAML tags such as !!python/name:os.system are "
        "not allowed (a config holds plain values: numbers, text, lists, mappings)"
    )
    assert stored(studies) == {}


def interrupted(proc: subprocess.Popen[str], after: str) -> subprocess.CompletedProcess[str]:
    """SIGINT to ``proc`` once its output shows ``after``."""
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if after in line:
            break
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(seen) + out, err)


@pytest.mark.parametrize("stage", ["work", "analyze"])
def test_an_interrupt_during_a_stage_is_one_line_and_the_store_stays(stage, started, tmp_path):
    conf, studies = started
    copy = tmp_path / "studies"
    shutil.copytree(studies, copy)
    overrides = ["round=r1", f"stage={stage}"]
    if stage == "work":  # a slow trainer, so the signal lands in a trial
        overrides += ["round.name=slow", "trainer._target_=tests.support.trainers.own_slow"]
    done = interrupted(start(conf, copy, *overrides), "studies x 2 trials")
    assert done.returncode == 130, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("stopped by SIGINT")
    after = stored(copy)
    assert {k: v for k, v in after.items() if k.startswith("r1/")} == stored(studies)
    if stage == "work":  # the trial running is FAIL with the reason, queued again
        states = [state for trials in after.values() for _, state, _ in trials if trials]
        assert "RUNNING" not in states
