"""optuna-dashboard, started as a user starts it, shows the round's studies, attributes, curves."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import optuna

from orchestrator.config.experiment import builtin_experiment
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.rounds.validate import parse_round
from orchestrator.store.storage import create_storage
from tests.support.rounds import run_in_process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@contextlib.contextmanager
def dashboard_server(url: str) -> Iterator[str]:
    """The real optuna-dashboard on a free loopback port; yields its base URL once it answers."""
    port = free_port()
    dashboard = Path(sys.executable).with_name("optuna-dashboard")
    server = subprocess.Popen(
        [str(dashboard), url, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                get(f"{base}/api/studies")
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def run_planted_round(tmp_path: Path, trainer: str, trials: int):
    """Round 1 (depth 1, 2; lr nuisance up to 3) run with a test trainer on a fresh store."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{tmp_path}/tuning.db"
    raw = RoundConfig(
        name="round_1",
        goal="Does a deeper CNN help?",
        scientific={"model.depth": [1, 2]},
        nuisance={"optimizer.lr": {"low": 0.01, "high": 3.0, "log": True}},
        budget=BudgetConfig(trials_per_study=trials),
    )
    start = builtin_experiment(trainer=trainer)
    rnd = parse_round(raw, start)
    storage = create_storage(StorageConfig(url=url))
    run_in_process(rnd, start, storage, trainer, tmp_path / "a")
    return url, rnd, storage


def test_dashboard_lists_round_studies_with_attributes_and_intermediate_values(tmp_path: Path):
    url, _, _ = run_planted_round(tmp_path, "tests.support.trainers.analytic", trials=3)

    with dashboard_server(url) as base:
        studies = get(f"{base}/api/studies")["study_summaries"]
        names = sorted(s["study_name"] for s in studies)
        assert names == ["round_1/model.depth=1", "round_1/model.depth=2"]
        study_id = next(s["study_id"] for s in studies if s["study_name"].endswith("=2"))
        detail = get(f"{base}/api/studies/{study_id}")
        attrs = {a["key"]: a["value"] for a in detail["user_attrs"]}
        assert "Does a deeper CNN help?" in attrs["goal"] and "qmc" in attrs["sampler"]
        assert len(detail["trials"]) == 3
        assert all(t["intermediate_values"] for t in detail["trials"])  # its curve plots


def test_dashboard_serves_the_findings_as_study_notes_and_figures(tmp_path: Path):
    import plotly.graph_objects as go

    from orchestrator.analysis.load import load_round
    from orchestrator.analysis.run import analyze
    from orchestrator.config.sections import AnalysisConfig
    from orchestrator.report.dashboard import push_findings

    url, rnd, storage = run_planted_round(
        tmp_path, "tests.support.trainers.diverges_above_1", trials=8
    )
    records = load_round(rnd, storage, tmp_path / "a")
    findings = analyze(records, AnalysisConfig())
    infeasible = [f for f in findings if f.kind == "infeasible"]
    assert infeasible  # lr above 1 diverges in this planted round

    def figures(record):
        values = [t.value for t in record.complete()]
        return {"values": go.Figure(go.Scatter(y=values, name=f"{record.name} values"))}

    push_findings(storage, records, rnd.goal, findings, figures)
    push_findings(storage, records, rnd.goal, findings, figures)  # re-running replaces

    with dashboard_server(url) as base:
        studies = get(f"{base}/api/studies")["study_summaries"]
        study_id = next(s["study_id"] for s in studies if s["study_name"].endswith("=1"))
        detail = get(f"{base}/api/studies/{study_id}")
        body = detail["note"]["body"]
        assert body.startswith("## Does a deeper CNN help?")
        assert "`model.depth=1`" in body
        assert infeasible[0].message in body or any(f.message in body for f in infeasible)
        graphs = detail["plotly_graph_objects"]
        assert len(graphs) == 1  # saved twice under one id: replaced, not piled up
        figure = json.loads(graphs[0]["graph_object"])
        assert figure["data"][0]["name"] == "round_1/model.depth=1 values"
