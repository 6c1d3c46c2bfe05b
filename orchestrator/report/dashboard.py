"""The round's findings in optuna-dashboard: a Markdown note and key figures per study.

Why: people look at rounds in optuna-dashboard; the checks should be where they look. Each
study gets a note (the round's goal, its scientific value, its findings, most severe
first) and the axis plot of each nuisance param, saved under fixed ids so re-running the
analysis replaces them instead of piling up copies.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import optuna
import plotly.graph_objects as go
from optuna_dashboard import save_note, save_plotly_graph_object

from orchestrator.analysis.model import StudyRecord
from orchestrator.store.findings import Finding, Severity

_ICON = {Severity.BLOCK: "BLOCK", Severity.WARN: "WARN", Severity.INFO: "info"}


def note_for(study: StudyRecord, goal: str, findings: list[Finding]) -> str:
    """The Markdown note of one study: goal, point, and the findings that concern it."""
    point = ", ".join(f"`{k}={v}`" for k, v in study.point.items()) or "(no scientific param)"
    lines = [f"## {goal}", "", f"Scientific value: {point}", "", "### Findings", ""]
    mine = [f for f in findings if f.study in (study.name, None)]
    if not mine:
        lines.append("No finding.")
    for f in mine:
        param = f" `{f.param}`" if f.param else ""
        lines.append(f"- **{_ICON[f.severity]} {f.kind}**{param}: {f.message}")
    return "\n".join(lines)


def _figure_id(study: str, name: str) -> str:
    """A valid, stable HTML id (letters, digits, - and _) for a figure of a study."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{name}-{study}")


def push_findings(
    storage: optuna.storages.BaseStorage,
    studies: list[StudyRecord],
    goal: str,
    findings: list[Finding],
    figures: Callable[[StudyRecord], dict[str, go.Figure]] = lambda s: {},
) -> None:
    """Save the note and the figures ``figures(study)`` returns (name -> figure) per study."""
    for record in studies:
        study = optuna.load_study(study_name=record.name, storage=storage)
        with warnings.catch_warnings():  # optuna-dashboard marks these APIs experimental
            warnings.simplefilter("ignore")
            save_note(study, note_for(record, goal, findings))
            for name, figure in figures(record).items():
                save_plotly_graph_object(
                    study, figure, graph_object_id=_figure_id(record.name, name)
                )
