"""The orchestrator as a user installs it: ``uv build``'s output in a fresh virtual
environment beside a project in its own folder, with a dependency our lock file lacks.

Everything runs through the installed ``orchestrator`` command from the project's folder:
a round end to end (trials, analysis, report, promotion), the analysis and history alone,
the README's overrides on an own config without ``+``, optuna-dashboard and TensorBoard
started on this project's store and stopped, and ``import trial_report`` from the wheel.
Once per Python this machine has (3.11, 3.12, 3.13: the ones the package supports).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.report_tests.test_dashboard import free_port
from tests.support.cli import ROOT

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).parent / "user_project"
PYTHONS = ("3.11", "3.12", "3.13")


def uv() -> list[str]:
    """The uv running this suite (``uv run`` sets ``UV``), else uv on PATH, else the module
    ``make setup`` installed with pip into the system's python3."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def interpreter(version: str) -> str | None:
    """A working ``python<version>`` (PATH first, then pyenv's folders), else None."""
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(
        glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}"))
    )
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True)  # fmt: skip
        if probe.returncode == 0 and probe.stdout.strip() == str(
            tuple(map(int, version.split(".")))
        ):
            return candidate
    return None


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """The sdist and the wheel ``uv build`` makes (the wheel is built from the sdist), and
    the locked versions of our dependencies as constraints (what CI tested)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([*uv(), "build", "-q", "-o", str(out)], cwd=ROOT, check=True)
    constraints = out / "constraints.txt"
    exported = subprocess.run(
        [*uv(), "export", "--locked", "--no-dev", "--no-hashes", "--no-emit-project", "-q"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    constraints.write_text(exported.stdout)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "constraints": constraints}


def fresh_environment(tmp: Path, python: str, package: Path, constraints: Path) -> Path:
    """A new virtual environment with ``package`` and the project's own requirements."""
    venv = tmp / "venv"
    subprocess.run([*uv(), "venv", "-q", "--python", python, str(venv)], check=True)
    subprocess.run(
        [*uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
         "-c", str(constraints), str(package), "-r", str(PROJECT / "requirements.txt")],
        check=True,
    )  # fmt: skip
    return venv / "bin"


def orchestrator(bin_dir: Path, folder: Path, *overrides: str, timeout: int = 600):
    """The installed command from the project's folder, the way its README says."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return subprocess.run(
        [str(bin_dir / "orchestrator"), "--config-dir", "conf", "--config-name", "project",
         *overrides],
        cwd=folder, capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def serving(bin_dir: Path, folder: Path, url_path: str, *overrides: str) -> tuple[str, str]:
    """Start a viewer stage, read ``url_path`` once it answers, stop it with SIGTERM; the
    page's body and everything the stage printed (it must exit 0)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    port = free_port()
    stage, key = overrides[0], overrides[1]
    server = subprocess.Popen(
        [str(bin_dir / "orchestrator"), "--config-dir", "conf", "--config-name", "project",
         stage, f"{key}={port}", *overrides[2:]],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    body = ""
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{url_path}", timeout=5) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    return body, output


@pytest.mark.parametrize("version", PYTHONS)
def test_a_round_end_to_end_from_the_users_folder(version, dist, tmp_path):
    python = interpreter(version)
    if python is None:
        pytest.skip(f"no python{version} on this machine")
    package = dist["sdist"] if version == "3.11" else dist["wheel"]  # both install
    bin_dir = fresh_environment(tmp_path, python, package, dist["constraints"])
    folder = tmp_path / "project"
    shutil.copytree(PROJECT, folder)

    helper = subprocess.run(
        [str(bin_dir / "python"), "-c",
         "import trial_report, orchestrator; print(trial_report.report(1, val_loss=0.5), "
         "orchestrator.__version__)"],
        cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    assert helper.returncode == 0, helper.stderr
    assert helper.stdout.split()[0] == "False"  # outside a trial: a no-op, never a stop
    version = subprocess.run([str(bin_dir / "orchestrator"), "--version"],
                             capture_output=True, text=True)  # fmt: skip
    assert (
        version.stdout.strip()
        == f"orchestrator {helper.stdout.split()[1]} (tuning-round-orchestrator)"
    )

    # The README's overrides, without "+", on an own config (a range too), and the round.
    run = orchestrator(bin_dir, folder, "round=wide_1", "round.budget.workers=1",
                       "round.nuisance.optim.lr.high=0.5", "paths.tensorboard=true")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "answer: Does a wider net lower the validation loss?" in run.stdout
    assert "promotion:" in run.stdout and "report: studies/wide_1/report.html" in run.stdout
    assert (folder / "studies" / "tuning.db").is_file()  # the store is in the user's folder
    assert (folder / "studies" / "wide_1" / "report.html").is_file()
    assert (folder / "studies" / "wide_1" / "next_round.yaml").is_file()
    assert list((folder / "studies" / "tensorboard" / "wide_1").rglob("events.out.tfevents*"))
    (log,) = (folder / "studies" / "logs" / "run").glob("*/cli.log")
    assert "answer: Does a wider net lower the validation loss?" in log.read_text()

    # The same round resumed adds nothing (its range came from the command line then: the
    # same override now), and the analysis alone and the history read the user's store.
    again = orchestrator(bin_dir, folder, "round=wide_1", "stage=analyze",
                         "round.nuisance.optim.lr.high=0.5")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "findings (" in again.stdout
    (log,) = (folder / "studies" / "logs" / "analyze").glob("*/cli.log")
    assert "findings (" in log.read_text()  # what the terminal showed, in the log
    history = orchestrator(bin_dir, folder, "stage=history")
    assert history.returncode == 0 and "wide_1" in history.stdout, history.stderr

    studies, printed = serving(bin_dir, folder, "/api/studies", "stage=dashboard",
                               "serve.dashboard_port")  # fmt: skip
    names = {s["study_name"] for s in json.loads(studies)["study_summaries"]}
    assert {"wide_1/net.width=8", "wide_1/net.width=32"} <= names, names
    assert "optuna-dashboard on sqlite:///studies/tuning.db" in printed
    runs, printed = serving(bin_dir, folder, "/data/runs", "stage=tensorboard",
                            "serve.tensorboard_port")  # fmt: skip
    assert "wide_1/net.width=8/trial_0" in json.loads(runs), runs
