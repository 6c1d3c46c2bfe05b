"""stage=dashboard through the real command line: a stop signal ends it with exit 0 even
while requests are being served, and a taken port is one error naming the key."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import optuna

from tests.support.cli import ROOT, run_cli


def a_store(studies: Path) -> None:
    studies.mkdir(parents=True)
    optuna.create_study(study_name="r1", storage=f"sqlite:///{studies}/tuning.db")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_while_requests_are_served_ends_the_dashboard_with_exit_0(tmp_path):
    studies, port = tmp_path / "studies", free_port()
    a_store(studies)
    argv = [sys.executable, "-m", "orchestrator", f"paths.studies={studies}",
            "stage=dashboard", f"serve.dashboard_port={port}"]  # fmt: skip
    server = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/studies"
    for _ in range(150):  # until it serves
        try:
            urllib.request.urlopen(url, timeout=5).read()
            break
        except OSError:
            time.sleep(0.2)
    busy = threading.Event()

    def hammer() -> None:  # requests in flight when the signal lands
        while not busy.is_set():
            try:
                urllib.request.urlopen(url, timeout=2).read()
            except OSError:
                return

    workers = [threading.Thread(target=hammer, daemon=True) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    server.send_signal(signal.SIGTERM)
    try:
        output, _ = server.communicate(timeout=20)
    finally:
        busy.set()
        server.kill()
    assert server.returncode == 0, output


def test_a_taken_port_is_one_error_naming_the_key(tmp_path):
    studies = tmp_path / "studies"
    a_store(studies)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(studies, "stage=dashboard", f"serve.dashboard_port={port}", timeout=60)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: serve.dashboard_port: cannot listen on port {port}")
    ), done.stderr
