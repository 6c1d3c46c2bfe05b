"""A command as the trainer, with a real child process for every fault a user meets.

Each test runs ``tests/support/child_script.py`` through the worker's own door
(``TrainerCache.train``), as a round's trial would, and checks what the trial becomes and
that no process of the child's (nor its own child) is left running.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from orchestrator.config.experiment import Experiment
from orchestrator.config.params import ParamSchema
from orchestrator.config.trainer_settings import CommandSettings
from orchestrator.exceptions import ConfigError, TrainerContractError
from orchestrator.trainers.cache import TrainerCache
from orchestrator.trainers.child.process import run_child
from orchestrator.trainers.child.run import ChildTrialFailed, child_env
from orchestrator.trainers.protocol import TrialPlace
from orchestrator.trainers.reports import Reports

SCRIPT = Path(__file__).resolve().parents[1] / "support" / "child_script.py"


def experiment(mode: str, pids: Path, *, timeout: float | None = 60, grace: float = 2.0,
               steps: int = 4, delay: float = 0.0,
               command: tuple[str, ...] | None = None) -> Experiment:  # fmt: skip
    settings = CommandSettings(
        command=command or (sys.executable, str(SCRIPT)),
        args="argparse",
        timeout=timeout,
        grace=grace,
    )
    tree = {
        "mode": mode, "x": 0.5, "steps": steps, "seed": 7, "pids": str(pids), "delay": delay,
        "objective": {"metric": "loss", "direction": "minimize"},
    }  # fmt: skip
    return Experiment(tree, ParamSchema({}, builtin=False), settings, "seed", "steps")


def train(exp: Experiment, place: Path, on_value=None):
    reports = Reports("loss", False, on_value)
    return TrainerCache().train(exp, reports, TrialPlace("r1/s#3", place)), reports


def alive(pids: Path) -> list[str]:
    """The recorded processes still running (a zombie awaiting its reaper is not running)."""
    running = []
    for marker in pids.glob("*.*"):
        stat = Path(f"/proc/{marker.stem}/stat")
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            continue
        if state != "Z":
            running.append(marker.name)
    return running


def wait_until_gone(pids: Path, seconds: float = 5.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


def test_a_command_reports_curves_and_its_objective_with_seed_and_trial_in_its_env(tmp_path):
    result, _ = train(experiment("ok", tmp_path / "pids"), tmp_path / "t")
    assert result.status == "completed"
    assert result.objective == pytest.approx(0.04 + 0.25)  # the best reported loss (step 4)
    assert result.best_step == 4 and result.steps == 4 and result.max_steps == 4
    assert result.curves.eval_step == [1, 2, 3, 4]
    assert result.curves.metrics["loss"][0] == pytest.approx(1.04)
    stderr = (tmp_path / "t" / "stderr.log").read_text()
    assert "seed env=7 trial=r1/s#3" in stderr
    assert (tmp_path / "t" / "metrics.jsonl").read_text().count("\n") == 4
    assert wait_until_gone(tmp_path / "pids") == []


def test_printed_json_lines_are_read_without_the_helper(tmp_path):
    result, _ = train(experiment("stdout", tmp_path / "pids"), tmp_path / "t")
    assert result.curves.eval_step == [1, 2, 3, 4]
    assert result.objective == pytest.approx(0.04)  # the final line wins over the reports


def test_final_metrics_from_the_helper_are_the_answer(tmp_path):
    result, _ = train(experiment("final", tmp_path / "pids"), tmp_path / "t")
    assert result.objective == -1.0 and result.final["loss"] == -1.0


def test_a_non_zero_exit_fails_the_trial_with_the_code_and_the_tail_of_stderr(tmp_path):
    with pytest.raises(ChildTrialFailed) as err:
        train(experiment("fail", tmp_path / "pids"), tmp_path / "t")
    assert "exited with code 3" in str(err.value)
    assert "ValueError: bad batch" in str(err.value)
    assert str(tmp_path / "t") in str(err.value)


def test_a_command_that_exits_without_the_objective_breaks_the_contract_saying_why(tmp_path):
    """Exit 0 and no objective: every trial would end so; the error stops the round, with
    the lines the child printed and the pattern that missed."""
    with pytest.raises(TrainerContractError) as err:
        train(experiment("silent", tmp_path / "pids"), tmp_path / "t")
    message = str(err.value)
    assert "without the objective's metric 'loss'" in message
    assert "pattern 'json': matched no line" in message
    assert "stdout.log ends:\n  | training... done" in message
    assert "report(step, loss=...)" in message and "stage=metrics metrics_log=" in message
    assert (tmp_path / "t" / "stdout.log").read_text() == "training... done\n"


def test_a_hanging_command_is_stopped_at_the_timeout_with_its_children(tmp_path):
    pids = tmp_path / "pids"
    started = time.monotonic()
    with pytest.raises(ChildTrialFailed) as err:
        train(experiment("hang", pids, timeout=1.5, grace=1.0), tmp_path / "t")
    assert "timed out after 1.5 s" in str(err.value)
    assert time.monotonic() - started < 10
    assert len(list(pids.glob("*"))) == 2  # the child and its own child both ran
    assert wait_until_gone(pids) == []


def test_a_stopped_trial_ends_at_its_next_report_and_keeps_what_it_reported(tmp_path):
    result, reports = train(
        experiment("ok", tmp_path / "pids", steps=50, delay=0.05),
        tmp_path / "t",
        lambda step, v: step >= 2,
    )
    assert result.status == "stopped" and reports.stopped
    # the worker reads reports every 0.1 s: the child sees the stop a few steps later
    assert 2 <= result.steps <= 12 and result.curves.eval_step[:2] == [1, 2]
    assert "stopping at step" in (tmp_path / "t" / "stderr.log").read_text()


def test_a_child_that_ignores_the_stop_and_sigterm_is_killed_after_the_grace(tmp_path):
    pids = tmp_path / "pids"
    started = time.monotonic()
    result, _ = train(
        experiment("ignore_stop", pids, steps=500, delay=0.2, grace=0.5),
        tmp_path / "t",
        lambda step, v: step >= 2,
    )
    assert result.status == "stopped" and result.steps >= 2
    assert time.monotonic() - started < 10
    assert wait_until_gone(pids) == []


def test_a_grandchild_left_behind_by_a_finished_command_is_stopped(tmp_path):
    pids = tmp_path / "pids"
    result, _ = train(experiment("spawn", pids), tmp_path / "t")
    assert result.status == "completed"
    assert len(list(pids.glob("*.grandchild"))) == 1
    assert wait_until_gone(pids) == []


def test_a_command_that_is_not_found_is_one_error_before_any_trial(tmp_path):
    with pytest.raises(ConfigError) as err:
        TrainerCache().ready(experiment("ok", tmp_path, command=("pyhton", "train.py")))
    assert err.value.key == "trainer.command" and "command not found: 'pyhton'" in str(err.value)
    with pytest.raises(ConfigError, match="not an executable file"):
        TrainerCache().ready(experiment("ok", tmp_path, command=("./train.py",)))


@pytest.mark.parametrize(
    ("source", "error", "says"),
    [
        # a printed line with step 0: the worker's own check stops the round
        ("print('{\"step\": 0, \"loss\": 1.0}')", TrainerContractError,
         "step must be an int >= 1"),
        # the helper checks the same rule in the child: the trial FAILS with its reason
        ("from trial_report import report\nreport(2.5, loss=1.0)", ChildTrialFailed,
         "step must be an int >= 1; got 2.5"),
    ],
)  # fmt: skip
def test_a_bad_step_from_a_command_is_refused(tmp_path, source, error, says):
    script = tmp_path / "bad.py"
    script.write_text(source + "\n")
    exp = experiment("ok", tmp_path, command=(sys.executable, str(script)))
    with pytest.raises(error, match=says):
        train(exp, tmp_path / "t")


def test_a_worker_holding_over_a_thousand_files_still_watches_its_child(tmp_path):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard limit on open files is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]  # the pidfd gets fd > 1024
    try:
        result, _ = train(experiment("ok", tmp_path / "pids"), tmp_path / "t")
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert result.status == "completed"


def test_a_second_interrupt_during_the_grace_still_kills_the_group_and_frees_the_fd(tmp_path):
    """The first error (the report hook raising) starts the grace; a Ctrl-C half a second
    into it must not leave the child (which ignores SIGTERM) or its own child running."""
    pids = tmp_path / "pids"
    (tmp_path / "t").mkdir()
    argv = [sys.executable, str(SCRIPT), "--mode", "ignore_stop", "--steps", "500",
            "--delay", "0.1", "--pids", str(pids)]  # fmt: skip
    env = child_env(experiment("ok", pids), TrialPlace("r/s#0", tmp_path / "t"))
    fds_before = len(os.listdir("/proc/self/fd"))

    def on_tick() -> bool:
        if len(list(pids.glob("*"))) == 2:
            raise RuntimeError("the store went away")
        return False

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        with pytest.raises((RuntimeError, KeyboardInterrupt)):
            signal.setitimer(signal.ITIMER_REAL, 3.0)  # well into the 20 s grace below
            run_child(argv, env=env, out_dir=tmp_path / "t", on_tick=on_tick,
                      stop_file=tmp_path / "t" / "stop", timeout=None, grace=20.0)  # fmt: skip
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert wait_until_gone(pids) == []
    assert len(os.listdir("/proc/self/fd")) == fds_before
