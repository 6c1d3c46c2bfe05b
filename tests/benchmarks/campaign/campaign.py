"""One campaign as a user runs it: round 1 written by hand, every later round the tool's
own draft taken as written, each through the real command line (``orchestrator``), in a
fresh copy of the user-style project (``project/``).

What it returns is read back from what a user sees on disk: the incumbent file (the
campaign's answer), the promotion history, the drafts, and ``runs.jsonl`` (one line per
training run the trainer made: search trials and promotion reruns alike).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.benchmarks.campaign.project.recorded_mlp import KEYS
from tests.benchmarks.campaign.tasks import Task

PROJECT = Path(__file__).parent / "project"
ORCHESTRATOR = Path(sys.executable).parent / "orchestrator"


@dataclass
class RoundOutcome:
    name: str
    verdict: str  # promoted | rejected | blocked | none (no promotion line)
    runs: int  # training runs the round made (search and reruns)
    repeated: int  # search runs of a configuration an earlier round had already run
    draft_changes: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)


@dataclass
class CampaignOutcome:
    task: str
    rep: int
    rounds: list[RoundOutcome]
    runs: int
    final: dict[str, Any]  # the answer's configuration (our keys)
    observed: float  # what the campaign measured of it: mean of its seed reruns
    promotions: list[tuple[dict[str, Any], dict[str, Any]]]  # (replaced, promoted) configs
    decisions: list[Decided] = field(default_factory=list)
    promotion_runs: int = 0  # reruns (any seed but the user's 0)


@dataclass
class Decided:
    """One promotion decision: the configs it compared and what it said."""

    round: str
    verdict: str
    incumbent: dict[str, Any]
    candidate: dict[str, Any]
    seeds: int  # paired seeds it read


def _values(tree: dict[str, Any], suite: str) -> dict[str, Any]:
    out = {}
    for key in KEYS[suite]:
        node: Any = tree
        for part in key.split("."):
            node = node[part]
        out[key] = node
    return out


def _runs(folder: Path) -> list[dict[str, Any]]:
    path = folder / "runs.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _run_round(folder: Path, task: Task, round_name: str, log: Path) -> str:
    command = [
        str(ORCHESTRATOR),
        "--config-dir",
        "conf",
        "--config-name",
        task.suite,
        f"round={round_name}",
        f"task.name={task.name}",
    ]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=1800)
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n{done.stdout}\n{done.stderr}\n")
    if done.returncode != 0:
        raise RuntimeError(f"{task.label} {round_name} exited {done.returncode}; see {log}")
    return done.stdout


def _verdict(stdout: str, round_name: str) -> str:
    for line in stdout.splitlines():
        if line.startswith(f"promotion of {round_name}:"):
            return line.split(":", 1)[1].strip().lower()
    return "none"


def _draft(folder: Path, round_name: str) -> tuple[str, list[str]]:
    """The tool's draft of the next round, copied into conf/round/ as written."""
    path = folder / "studies" / round_name / "next_round.yaml"
    text = path.read_text()
    draft = yaml.safe_load(text)
    (folder / "conf" / "round" / f"{draft['name']}.yaml").write_text(text)
    changes = [line[5:] for line in text.splitlines() if line.startswith("#  - ")]
    return draft["name"], changes


def run_campaign(task: Task, rep: int, rounds: int, workdir: Path) -> CampaignOutcome:
    folder = workdir / f"{task.suite}-{task.name}-{rep}"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(PROJECT, folder, ignore=shutil.ignore_patterns("__pycache__", "studies"))
    (folder / "conf" / "round").mkdir(exist_ok=True)
    (folder / "conf" / "round" / "r1.yaml").write_text(yaml.safe_dump(task.round_1(rep)))
    log = folder / "campaign.log"
    outcomes: list[RoundOutcome] = []
    name, changes = "r1", ["(written by hand)"]
    seen: set[str] = set()
    for _ in range(rounds):
        before = len(_runs(folder))
        stdout = _run_round(folder, task, name, log)
        runs = _runs(folder)[before:]
        search = [json.dumps(r["values"], sort_keys=True) for r in runs if r["seed"] == 0]
        repeated = sum(key in seen for key in search)
        seen.update(search)
        header = [ln for ln in stdout.splitlines()[:8] if ln.startswith("  ")]
        outcomes.append(
            RoundOutcome(name, _verdict(stdout, name), len(runs), repeated, changes, header)
        )
        name, changes = _draft(folder, name)
    return _read_outcome(task, rep, folder, outcomes)


def _read_outcome(
    task: Task, rep: int, folder: Path, outcomes: list[RoundOutcome]
) -> CampaignOutcome:
    base = yaml.safe_load((PROJECT / "conf" / f"{task.suite}.yaml").read_text())
    current = _values(base, task.suite)
    promotions = []
    for r in outcomes:
        path = folder / "studies" / "history" / f"{r.name}.yaml"
        if r.verdict == "promoted" and path.exists():
            promoted = _values(yaml.safe_load(path.read_text())["experiment"], task.suite)
            promotions.append((current, promoted))
            current = promoted
    runs = _runs(folder)
    reruns = [r["value"] for r in runs if r["seed"] != 0 and r["values"] == current]
    observed = sum(reruns) / len(reruns) if reruns else float("nan")
    return CampaignOutcome(
        task.label,
        rep,
        outcomes,
        len(runs),
        current,
        observed,
        promotions,
        decisions_of(folder, task, _values(base, task.suite)),
        sum(r["seed"] != 0 for r in runs),
    )


def decisions_of(folder: Path, task: Task, base: dict[str, Any]) -> list[Decided]:
    """Every promotion decision in the campaign's ledger, in order, with the incumbent it
    faced (the base config until a promotion replaced it)."""
    with closing(sqlite3.connect(folder / "studies" / "tuning.db")) as db:
        rows = db.execute(
            "SELECT round_name, verdict, candidate_config, seeds FROM orchestrator_decisions"
            " ORDER BY id"
        ).fetchall()
    out, incumbent = [], base
    for name, verdict, config, seeds in rows:
        candidate = _values(json.loads(config), task.suite)
        out.append(Decided(name, verdict, incumbent, candidate, len(json.loads(seeds))))
        if verdict == "promoted":
            incumbent = candidate
    return out
