"""Running every check on a round, and its outputs: ``findings.json`` and the terminal table."""

from __future__ import annotations

import dataclasses
import json
import re
import textwrap
from collections.abc import Collection
from pathlib import Path

from orchestrator.analysis.advice import one_advice_per_param
from orchestrator.analysis.curve_checks import run_curve_checks
from orchestrator.analysis.failures import failed
from orchestrator.analysis.importance import importance
from orchestrator.analysis.model import StudyRecord
from orchestrator.analysis.pruning import pruning_findings
from orchestrator.analysis.round_checks import LENGTH_KEY, comparison, step_budget
from orchestrator.analysis.skipped import skipped_checks
from orchestrator.analysis.space_checks import boundary, density, infeasible
from orchestrator.analysis.sweep import sweep_findings
from orchestrator.config.params import PARAM_TYPES
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.files import atomic_write
from orchestrator.store.findings import Finding, Kind, by_severity, keep_suggested


def run_study_checks(studies: list[StudyRecord], cfg: AnalysisConfig) -> list[Finding]:
    """Every study check on a round's studies, most severe first.

    Per study: boundary, infeasible, failed, density, importance; then, across the round,
    the step budget and the comparison of scientific values.
    """
    findings: list[Finding] = []
    for study in studies:
        for check in (boundary, infeasible, failed, density, importance):
            findings.extend(check(study, cfg))
    findings.extend(step_budget(studies, cfg))
    findings.extend(comparison(studies, cfg))
    return by_severity(findings)


def analyze(
    studies: list[StudyRecord],
    cfg: AnalysisConfig,
    length_key: str | None = LENGTH_KEY,
    own_paths: Collection[str] | None = None,
) -> list[Finding]:
    """All findings of the round, most severe first.

    The checks suggest training lengths under the built-in key (``LENGTH_KEY``); they are
    given here under the experiment's own ``length_key`` (``epochs``), and the checks that
    had no data to read say so (``skipped.py``). For an own config (``own_paths``: its
    keys), a suggestion naming a built-in key it does not have (``schedule.name``) is
    dropped: the message still says what was seen."""
    findings = run_study_checks(studies, cfg) + run_curve_checks(studies, cfg)
    findings += pruning_findings(studies)
    findings += sweep_findings(studies)
    findings = one_advice_per_param(findings)
    findings = [_in_length_key(f, length_key) for f in findings]
    if own_paths is not None:
        findings = [_own_suggestions(f, own_paths) for f in findings]
    findings = [f for f in findings if f.kind != Kind.STEP_BUDGET or length_key is not None]
    return by_severity(findings + skipped_checks(studies, length_key, cfg.late_fraction))


def _own_suggestions(finding: Finding, own_paths: Collection[str]) -> Finding:
    """The finding without suggested built-in keys the own config lacks (its alternative's
    too)."""

    def keep(key: str) -> bool:
        return key not in PARAM_TYPES or key in own_paths

    return dataclasses.replace(finding, suggestion=keep_suggested(finding.suggestion, keep))


def _in_length_key(finding: Finding, length_key: str | None) -> Finding:
    if LENGTH_KEY in finding.suggestion and length_key is None:
        suggestion = {k: v for k, v in finding.suggestion.items() if k != LENGTH_KEY}
        return dataclasses.replace(finding, suggestion=suggestion)
    if LENGTH_KEY not in finding.suggestion or length_key == LENGTH_KEY:
        return finding
    suggestion = dict(finding.suggestion)
    suggestion[str(length_key)] = suggestion.pop(LENGTH_KEY)
    unit = str(length_key).rsplit(".", 1)[-1]  # "10 steps" -> "10 epochs": the user's unit
    message = re.sub(r"(\d+) steps\b", rf"\1 {unit}", finding.message)
    return dataclasses.replace(finding, suggestion=suggestion, message=message)


def write_findings(findings: list[Finding], path: Path) -> Path:
    """``findings.json``: a list of finding records (read by promotion and the report)."""
    atomic_write(path, json.dumps([f.to_dict() for f in findings], indent=1))
    return path


def format_findings(findings: list[Finding], width: int = 100) -> str:
    """A short table for the terminal: severity, kind, where, and the message."""
    if not findings:
        return "findings: none"
    lines = [f"findings ({len(findings)}, most severe first):"]
    for f in findings:
        where = ", ".join(x for x in (f.study, f.param) if x)
        head = f"  {f.severity.upper():<5} {f.kind:<20} {where}"
        lines.append(head)
        lines += textwrap.wrap(
            f.message, width, initial_indent="        ", subsequent_indent="        "
        )
    return "\n".join(lines)
