"""The round report: figures on hand-built studies with planted properties, the page's text,
its single inlined plotly.js, and (when chromium is installed) that every figure renders."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest

from orchestrator.analysis.answer import round_answer
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.report import figures
from orchestrator.report.round_report import build_report_html, write_report
from orchestrator.store.decision_record import DecisionRecord
from orchestrator.store.findings import Finding

LR = {"low": 0.01, "high": 3.0, "log": True}
MOMENTUM = {"low": 0.5, "high": 0.98, "log": False}
SPACE = {"optimizer.lr": [LR], "optimizer.momentum": [MOMENTUM]}
ROLES = {
    "scientific": {"model.depth": [1, 2]},
    "nuisance": {"optimizer.lr": [LR], "optimizer.momentum": [MOMENTUM]},
    "fixed": {"train.steps": 300},
}
PLOTLY_JS_MARKER = "* plotly.js v"


def _curves(final: float) -> dict[str, Any]:
    return {
        "train_loss": [2.3 - 0.01 * i for i in range(100)],
        "eval_step": [25, 50, 75, 100],
        "val_error": [0.9, 0.6, final + 0.05, final],
    }


def _study(depth: int, offset: float, t0: float) -> StudyRecord:
    """12 complete trials (the best at lr 2.9, the high edge), 3 infeasible, 1 pruned.

    Trial i runs from ``t0 + 10 i`` for 8 s; the best trial has curves.
    """
    lrs = [0.012, 0.02, 0.04, 0.07, 0.1, 0.15, 0.25, 0.4, 0.6, 1.0, 1.6, 2.9]
    trials = []
    for i, lr in enumerate(lrs):
        value = offset + 0.5 - 0.1 * i / len(lrs) if lr < 2.5 else offset + 0.2
        trials.append(
            TrialRecord(
                number=i,
                state="complete",
                value=round(value, 4),
                params={"optimizer.lr": lr, "optimizer.momentum": 0.5 + 0.04 * i},
                curves=_curves(offset + 0.2) if lr == 2.9 else None,
                started=t0 + 10 * i,
                finished=t0 + 10 * i + 8,
            )
        )
    for j, lr in enumerate([2.5, 2.7, 2.95], start=len(lrs)):
        trials.append(
            TrialRecord(
                number=j,
                state="infeasible",
                value=None,
                params={"optimizer.lr": lr, "optimizer.momentum": 0.9},
                infeasible_reason="diverged",
                started=t0 + 10 * j,
                finished=t0 + 10 * j + 3,
            )
        )
    trials.append(
        TrialRecord(
            number=15,
            state="pruned",
            value=None,
            params={"optimizer.lr": 0.05, "optimizer.momentum": 0.6},
            started=t0 + 150,
            finished=t0 + 152,
        )
    )
    trials.append(TrialRecord(number=16, state="running", value=None, params={}))
    return StudyRecord(
        name=f"round_x/model.depth={depth}",
        point={"model.depth": depth},
        direction="minimize",
        metric="val_error",
        search_space=SPACE,
        trials=trials,
    )


@pytest.fixture(scope="module")
def studies() -> list[StudyRecord]:
    return [_study(1, 0.3, 1000.0), _study(2, 0.1, 1200.0)]


FINDINGS = [
    Finding("importance", "info", "optimizer.momentum has importance 0.01 & is negligible."),
    Finding(
        "boundary",
        "warn",
        "The best optimizer.lr 2.9 is at the high edge <of> its log range.",
        "round_x/model.depth=1",
        "optimizer.lr",
        {"high": 30.0},
    ),
    Finding("infeasible", "block", "Most trials diverged: a bug?", "round_x/model.depth=2"),
]
DECISION = {
    "verdict": "promoted",
    "reason": "candidate beats incumbent by more than the seed noise",
    "seeds": [1, 2, 3],
    "candidate_values": [0.30, 0.31, 0.29],
    "incumbent_values": [0.35, 0.36, 0.34],
    "effect": -0.05,
    "ci_low": -0.06,
    "ci_high": -0.04,
    "candidate_study": "round_x/model.depth=2",
    "candidate_trial": 11,
}
RECORD = DecisionRecord.from_dict({"round_name": "round_x", **DECISION})
N_AXIS = 2 * 2  # two nuisance params x two studies


def _trace(fig: go.Figure, prefix: str) -> Any:
    (trace,) = [t for t in fig.data if (t.name or "").startswith(prefix)]
    return trace


# --------------------------------------------------------------------------- figures


def test_axis_plot_marks_infeasible_best_and_range_edges(studies: list[StudyRecord]) -> None:
    study = studies[0]
    fig = figures.axis_plot(study, "optimizer.lr")
    crosses = _trace(fig, "infeasible")
    assert crosses.marker.symbol == "x" and crosses.marker.color == "red"
    assert sorted(crosses.x) == [2.5, 2.7, 2.95]
    complete_values = [t.value for t in study.complete()]
    assert min(crosses.y) > max(complete_values)  # along the top of the y-range
    assert list(_trace(fig, "range low").x) == [0.01, 0.01]
    assert list(_trace(fig, "range high").x) == [3.0, 3.0]
    assert _trace(fig, "range high").line.dash == "dash"
    best = _trace(fig, "best")
    assert list(best.x) == [2.9] and best.y[0] == min(complete_values)
    assert len(_trace(fig, "complete").x) == 12
    assert fig.layout.xaxis.type == "log"
    assert figures.axis_plot(study, "optimizer.momentum").layout.xaxis.type != "log"


def test_axis_plot_categorical_param() -> None:
    trials = [
        TrialRecord(i, "complete", 0.1 * i, {"optimizer.name": name})
        for i, name in enumerate(["sgd", "adam", "sgd"])
    ]
    study = StudyRecord(
        "s",
        {},
        "minimize",
        "val_error",
        {"optimizer.name": [{"choices": ["sgd", "adam"]}]},
        trials,
    )
    fig = figures.axis_plot(study, "optimizer.name")
    assert fig.layout.xaxis.type == "category"
    assert list(_trace(fig, "complete").x) == ["sgd", "adam", "sgd"]
    assert not [t for t in fig.data if (t.name or "").startswith("range")]


def test_isolation_plot_has_one_best_per_study(studies: list[StudyRecord]) -> None:
    fig = figures.isolation_plot(studies)
    best = _trace(fig, "best")
    assert list(best.x) == ["model.depth=1", "model.depth=2"]
    assert list(best.y) == [s.ranked()[0].value for s in studies]
    spread = _trace(fig, "top 3")
    assert len(spread.x) == 6 and list(spread.y[:3]) == [t.value for t in studies[0].ranked()[:3]]


def test_best_curves_draw_each_best_trial(studies: list[StudyRecord]) -> None:
    fig = figures.best_curves(studies)
    assert len(fig.data) == 4  # training loss and validation error per study
    expected = [s.ranked()[0].curves["val_error"] for s in studies]  # type: ignore[index]
    assert [list(t.y) for t in fig.data[1::2]] == expected
    assert [t.name for t in fig.data[::2]] == [
        "model.depth=1 (trial 11)",
        "model.depth=2 (trial 11)",
    ]


def test_best_curves_without_curves_say_so() -> None:
    trial = TrialRecord(0, "complete", 0.5, {})
    fig = figures.best_curves([StudyRecord("s", {}, "minimize", "val_error", {}, [trial])])
    assert not fig.data
    assert "no curves stored" in fig.layout.annotations[0].text


def test_importance_plot_skips_small_studies(studies: list[StudyRecord]) -> None:
    small = StudyRecord("small", {"model.depth": 3}, "minimize", "val_error", SPACE, [])
    fig = figures.importance_plot([*studies, small])
    assert [t.name for t in fig.data] == ["model.depth=1", "model.depth=2"]
    for trace in fig.data:
        assert set(trace.y) == set(SPACE) and sum(trace.x) == pytest.approx(1.0)
    assert "too few trials" in figures.importance_plot([small]).layout.annotations[0].text


def test_timeline_has_one_bar_per_timed_trial(studies: list[StudyRecord]) -> None:
    fig = figures.timeline(studies)
    by_state = {t.name: t for t in fig.data}
    assert set(by_state) == {"complete", "infeasible", "pruned"}  # running: no times
    assert sum(len(t.x) for t in fig.data) == 2 * 16
    assert by_state["infeasible"].marker.color == "red"
    assert min(by_state["complete"].base) == 0.0
    assert list(by_state["pruned"].base) == [150.0, 350.0]


def test_decision_figure_pairs_seeds() -> None:
    fig = figures.decision_figure(DECISION)
    assert [t.name for t in fig.data] == ["seed 1", "seed 2", "seed 3"]
    assert list(fig.data[0].y) == [0.35, 0.30]
    assert "promoted" in fig.layout.title.text


# --------------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def page(studies: list[StudyRecord]) -> str:
    return build_report_html(
        round_name="round_x",
        goal="Does depth <script>alert(1)</script> help?",
        roles=ROLES,
        studies=studies,
        findings=FINDINGS,
        decision=RECORD,
        answer=round_answer("Does depth help?", studies, FINDINGS, RECORD, ["a change"], "n.yaml"),
    )


def test_report_puts_the_answer_first(page: str) -> None:
    answer = page.index('data-section="answer"')
    assert page.index("Goal:") < answer < page.index("<h2>Findings (")
    assert "<b>PROMOTED (effect -0.05, interval [-0.06, -0.04])" in page
    assert "undermined by: 1 block infeasible; 1 warn boundary (optimizer.lr)" in page
    assert "next: the next-round draft n.yaml (1 change)<ul><li>a change</li></ul>" in page


def test_report_holds_goal_findings_and_decision(page: str) -> None:
    assert "Does depth &lt;script&gt;alert(1)&lt;/script&gt; help?" in page
    assert "<script>alert(1)" not in page
    for finding in FINDINGS:
        assert _escaped(finding.message) in page
    assert "edge &lt;of&gt; its" in page
    assert page.index("Most trials diverged") < page.index("high edge") < page.index("negligible")
    assert "promoted" in page and DECISION["reason"] in page
    assert "<td>1</td><td>0.35</td><td>0.3</td>" in page  # seed, incumbent, candidate


def test_report_inlines_plotly_once_and_wraps_every_figure(page: str) -> None:
    assert page.count(PLOTLY_JS_MARKER) == 1
    assert "<script src" not in page
    names = re.findall(r'data-figure="([^"]+)"', page)
    # isolation, axis, curves, every trial's curves (one per study), importance, timeline,
    # decision
    assert len(names) == 1 + N_AXIS + 1 + 2 + 2 + 1
    assert "axis:round_x/model.depth=1:optimizer.lr" in names


def test_report_without_decision_says_so(studies: list[StudyRecord]) -> None:
    text = build_report_html(
        round_name="r", goal="g", roles={}, studies=studies, findings=[], decision=None
    )
    assert "No promotion decision yet." in text
    assert 'data-figure="decision"' not in text
    assert text.count(PLOTLY_JS_MARKER) == 1


def test_write_report_replaces_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.html"
    assert write_report(path, "<p>one</p>") == path
    write_report(path, "<p>two</p>")
    assert path.read_text() == "<p>two</p>"
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]


def test_report_renders_in_chromium(page: str, tmp_path: Path) -> None:
    dom = _chromium_dom(page, tmp_path)
    chunks = dom.split('data-figure="')[1:]
    assert len(chunks) == 1 + N_AXIS + 1 + 2 + 2 + 1
    for chunk in chunks:
        assert 'class="main-svg"' in chunk, chunk[:200]  # plotly drew this figure


def _chromium_dom(page: str, tmp_path: Path) -> str:
    """The page as headless Chromium leaves it after its scripts ran; fails on a script
    error."""
    chromium = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium package)")
    path = write_report(tmp_path / "report.html", page)
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Uncaught" not in proc.stderr, proc.stderr[-2000:]
    return proc.stdout


def _escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_the_sweep_view_draws_every_trial_in_chromium(tmp_path: Path) -> None:
    from tests.analysis_tests.test_sweep import GRID, sweep_study

    study = sweep_study()
    text = build_report_html(
        round_name="round_0", goal="Which rate?", roles={}, studies=[study], findings=[],
        decision=None,
    )  # fmt: skip
    assert text.index("Sweep view: round_0") < text.index("<h2>Findings")
    assert "0.1 (trial 3) trains fastest and deepest" in text
    dom = _chromium_dom(text, tmp_path)
    sweep = dom.split('data-figure="sweep:round_0"')[1].split('data-figure="')[0]
    assert 'class="main-svg"' in sweep
    # every rate's training-loss and validation traces drawn, named in the legend
    assert sweep.count('class="trace scatter') >= 2 * len(GRID)
    for lr in GRID:
        assert f"optimizer.lr={lr:.3g}" in sweep, lr
    assert "optimizer.lr=0.1 (chosen)" in sweep and "colorbar" in sweep
