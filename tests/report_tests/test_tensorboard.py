"""Every trial as a TensorBoard run, read back through the real TensorBoard server's HTTP
API on loopback: a trial's scalars, and the HParams table of the round (every trial with
its params and metric). Re-exporting writes nothing twice."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from orchestrator.report.tensorboard_export import MARKER, export_round, run_dir
from tests.analysis_tests.test_sweep import GRID, STEPS, sweep_study


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, body: dict | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    logs = tmp_path_factory.mktemp("tb")
    # a second study with the very same values: every trial must still be its own row
    again = dataclasses.replace(sweep_study(), name="round_0_next")
    assert export_round(logs, [sweep_study(), again]) == 2 * len(GRID)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logs), "--host", "127.0.0.1",
         "--port", str(port), "--load_fast=false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if len(get(f"{base}/data/runs")) == 2 * len(GRID):  # type: ignore[arg-type]
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"tensorboard did not serve the runs: {proc.stderr.read()[-2000:]}")
        time.sleep(0.5)
    yield base, logs
    proc.terminate()
    proc.wait(timeout=20)


def test_a_trials_scalars_are_served(server):
    base, _ = server
    runs = get(f"{base}/data/runs")
    assert "round_0/trial_3" in runs  # type: ignore[operator]
    points = get(f"{base}/data/plugin/scalars/scalars?run=round_0/trial_3&tag=train/loss")
    steps = [p[1] for p in points]  # type: ignore[union-attr,index]
    assert steps == list(range(1, STEPS + 1))
    expected = sweep_study().trials[3].curves["train_loss"]  # type: ignore[index]
    assert [p[2] for p in points] == pytest.approx(expected, rel=1e-5)  # type: ignore[index]


def test_the_hparams_table_has_every_trial_with_its_params_and_metric(server):
    base, _ = server
    experiment = get(f"{base}/data/plugin/hparams/experiment", {"experimentName": ""})
    names = {h["name"] for h in experiment["hparamInfos"]}  # type: ignore[index]
    assert {"optimizer.lr", "state"} <= names
    groups = get(
        f"{base}/data/plugin/hparams/session_groups",
        {"experimentName": "", "startIndex": 0, "sliceSize": 100,
         "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                             "STATUS_RUNNING"]},
    )["sessionGroups"]  # type: ignore[index]  # fmt: skip
    assert len(groups) == 2 * len(GRID)  # one row per trial, even with equal values
    by_lr = {g["hparams"]["optimizer.lr"]: g for g in groups if g["hparams"]["study"] == "round_0"}
    assert sorted(by_lr) == sorted(GRID)
    assert by_lr[3.0]["hparams"]["state"] == "infeasible"
    study = sweep_study()
    for trial in study.complete():
        metrics = {
            m["name"]["tag"]: m for m in by_lr[trial.params["optimizer.lr"]]["metricValues"]
        }
        assert metrics["hparams/val_error"]["value"] == pytest.approx(trial.value, rel=1e-6)
        assert "train/loss" in metrics  # each curve's last value is a column too


def test_re_exporting_writes_nothing_twice_and_a_half_written_run_is_redone(tmp_path):
    study = sweep_study()
    assert export_round(tmp_path, [study]) == len(GRID)
    assert export_round(tmp_path, [study]) == 0
    (run_dir(tmp_path, "round_0", 4) / MARKER).unlink()  # as if killed before the marker
    assert export_round(tmp_path, [study]) == 1
    assert len(list(run_dir(tmp_path, "round_0", 4).glob("events.out.tfevents.*"))) == 1
    nested = run_dir(tmp_path, "round_1/model.depth=2", 7)
    assert nested == Path(tmp_path, "round_1", "model.depth=2", "trial_7")
    # a value that is a path step never leaves the folder
    assert run_dir(tmp_path, "r/../x y", 1) == Path(tmp_path, "r", "_", "x_y", "trial_1")
