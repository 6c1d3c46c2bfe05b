"""One self-contained HTML page per round: goal, the answer, roles, findings, figures and
the decision.

Why one page: a round is judged by a person reading the findings next to the plots they
come from (PLAYBOOK.md 4), often later and offline, so plotly.js is inlined once and
everything else is plain HTML. All text from configs and findings is escaped: a goal or a
message is data, never markup. Each figure sits in ``<div class="figure"
data-figure="NAME">`` so tests (and a headless browser) can count them.

Figure grids use ``auto-fill`` (not ``auto-fit``): plotly sizes a figure when its script
runs, before the later cells exist, and ``auto-fit`` would give the first cell the whole
row and leave its plot clipped once the row fills.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from orchestrator.analysis.answer import Answer
from orchestrator.analysis.failures import failure_groups
from orchestrator.analysis.model import StudyRecord
from orchestrator.analysis.outcomes import fmt
from orchestrator.analysis.pruning import steps_saved
from orchestrator.analysis.sweep import sweep_choice, sweep_findings
from orchestrator.report import figures
from orchestrator.report.trial_curves import trial_curves_figure
from orchestrator.store.decision_record import DecisionRecord, Verdict, t_text
from orchestrator.store.files import atomic_write
from orchestrator.store.findings import Finding, Kind, Severity, by_severity
from orchestrator.train.numbers import is_real

SEVERITY_COLORS = {Severity.BLOCK: "#c62828", Severity.WARN: "#ef6c00", Severity.INFO: "#757575"}

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } .goal { font-size: 1.15em; color: #444; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left;
         vertical-align: top; }
th { background: #f4f4f4; }
.roles { display: flex; gap: 2em; flex-wrap: wrap; }
.severity { color: white; font-weight: bold; border-radius: 3px; padding: 0 0.4em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr));
        gap: 0.5em; }
.figure { min-width: 0; }
.answer { background: #f7f9fc; border: 1px solid #d8e0ec; border-radius: 4px;
          padding: 0.2em 1em 0.5em; }
"""


def build_report_html(
    *,
    round_name: str,
    goal: str,
    roles: dict[str, Any],
    studies: list[StudyRecord],
    findings: list[Finding],
    decision: DecisionRecord | None,
    answer: Answer | None = None,
    promotion_skipped: str | None = None,
) -> str:
    """The whole page as a string (no I/O): see the module docstring for what is in it."""
    page = _Page()
    parts = [
        f"<h1>Round {_e(round_name)}</h1>",
        f'<p class="goal">Goal: {_e(goal)}</p>',
        _answer_section(answer),
        _sweep_section(page, studies, findings),
        _roles_section(roles),
        _findings_section(findings),
        _failures_section(studies),
        "<h2>Isolation view</h2>",
        page.figure("isolation", figures.isolation_plot(studies)),
        _axis_section(page, roles, studies),
        "<h2>Best trials' curves</h2>",
        page.figure("curves", figures.best_curves(studies)),
        _all_curves_section(page, studies),
        "<h2>Importance</h2>",
        page.figure("importance", figures.importance_plot(studies)),
        "<h2>Timeline</h2>",
        page.figure("timeline", figures.timeline(studies)),
        _compute_section(studies),
        _decision_section(page, decision, promotion_skipped),
    ]
    title = f"Round {round_name}"
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )


def write_report(path: Path, html_text: str) -> Path:
    """Write the page atomically, so a browser never loads half a report."""
    atomic_write(Path(path), html_text)
    return Path(path)


# --------------------------------------------------------------------------- figures


class _Page:
    """Renders figures in page order; only the first one carries plotly.js (inlined)."""

    def __init__(self) -> None:
        self._js_done = False

    def figure(self, name: str, fig: go.Figure) -> str:
        body = fig.to_html(
            full_html=False,
            include_plotlyjs=not self._js_done,
            config={"responsive": True, "displaylogo": False},
        )
        self._js_done = True
        return f'<div class="figure" data-figure="{_e(name)}">{body}</div>'


def _axis_params(roles: dict[str, Any], studies: list[StudyRecord]) -> list[str]:
    """Nuisance params in the round's declaration order, then any only the studies know."""
    params = list((roles.get("nuisance") or {}).keys())
    for study in studies:
        params += [p for p in study.search_space if p not in params]
    return params


def _axis_section(page: _Page, roles: dict[str, Any], studies: list[StudyRecord]) -> str:
    """One heading per nuisance param, with its axis plot for every study side by side."""
    out = ["<h2>Hyperparameter axis plots</h2>"]
    params = _axis_params(roles, studies)
    if not params:
        out.append("<p>No nuisance params in this round.</p>")
    for param in params:
        out.append(f"<h3>{_e(param)}</h3>")
        cells = [
            page.figure(f"axis:{study.name}:{param}", figures.axis_plot(study, param))
            for study in studies
        ]
        out.append(f'<div class="grid">{"".join(cells)}</div>')
    return "\n".join(out)


# --------------------------------------------------------------------------- tables


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A table from already-escaped cells (so cells may hold markup of ours)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _describe_spec(spec: dict[str, Any]) -> str:
    """``[0.01, 3] log``, ``{sgd, adam}``, with its ``when`` condition if any."""
    if "choices" in spec:
        text = "{" + ", ".join(_fmt(c) for c in spec["choices"]) + "}"
    else:
        text = f"[{_fmt(spec.get('low'))}, {_fmt(spec.get('high'))}]"
        text += " log" if spec.get("log") else " linear"
        if spec.get("step") is not None:
            text += f" step {_fmt(spec['step'])}"
    when = spec.get("when") or {}
    if when:
        text += " when " + ", ".join(f"{k}={_fmt(v)}" for k, v in when.items())
    return text


def _roles_section(roles: dict[str, Any]) -> str:
    """Scientific values, nuisance ranges and fixed values as three small tables."""
    scientific = roles.get("scientific") or {}
    nuisance = roles.get("nuisance") or {}
    fixed = roles.get("fixed") or {}
    tables = [
        (
            "Scientific",
            ["param", "values"],
            [[_e(p), _e(", ".join(_fmt(v) for v in vs))] for p, vs in scientific.items()],
        ),
        (
            "Nuisance",
            ["param", "range"],
            [
                [_e(p), _e("; ".join(_describe_spec(s) for s in alts))]
                for p, alts in nuisance.items()
            ],
        ),
        ("Fixed", ["param", "value"], [[_e(p), _e(_fmt(v))] for p, v in fixed.items()]),
    ]
    blocks = [
        f"<div><h3>{name}</h3>{_table(header, rows) if rows else '<p>none</p>'}</div>"
        for name, header, rows in tables
    ]
    return f'<h2>Roles</h2><div class="roles">{"".join(blocks)}</div>'


def _sweep_section(page: _Page, studies: list[StudyRecord], findings: list[Finding]) -> str:
    """The sweep view of each sweep study: every trial's curves coloured by the swept value,
    the chosen one bold, and the choice with its reason."""
    out = []
    for study in studies:
        choice = sweep_choice(study)
        if choice is None:
            continue
        stated = [f for f in findings if f.kind == Kind.SWEEP and f.study == study.name]
        finding = stated[0] if stated else sweep_findings([study])[0]  # the analysed words
        fig = trial_curves_figure(
            study, param=choice.param, choice=choice, title=f"Sweep of {choice.param}"
        )
        out.append(
            f'<h2>Sweep view: {_e(study.name)}</h2><p class="sweep">{_e(finding.message)}</p>'
        )
        out.append(page.figure(f"sweep:{study.name}", fig))
    return "\n".join(out)


def _all_curves_section(page: _Page, studies: list[StudyRecord]) -> str:
    """Every trial's curves of each study, folded away (open one to draw it full width)."""
    out = ["<h2>Every trial's curves</h2>"]
    for study in studies:
        fig = trial_curves_figure(study, title=f"Every trial's curves: {study.name}")
        out.append(
            f"<details><summary>{_e(study.name)}: {len(study.trials)} trials</summary>"
            f"{page.figure(f'trials:{study.name}', fig)}</details>"
        )
    # a figure drawn while folded has no width: redraw it when its fold opens
    out.append(
        "<script>document.querySelectorAll('details').forEach(d => d.addEventListener("
        "'toggle', () => d.open && d.querySelectorAll('.plotly-graph-div').forEach("
        "g => window.Plotly && Plotly.Plots.resize(g))));</script>"
    )
    return "\n".join(out)


def _answer_section(answer: Answer | None) -> str:
    """The round's answer first: ranking with noise, trust, what undermines it, verdict, next."""
    if answer is None:
        return ""
    rows = "".join(
        f"<tr><td>{i}</td><td>{_e(r.study)}</td>"
        f"<td>{'no complete trial' if r.best is None else _e(fmt(float(r.best)))}</td>"
        f"<td>{'' if r.noise is None else _e(fmt(float(r.noise)))}</td>"
        f"<td>{_e(r.gap_to_next)}</td></tr>"
        for i, r in enumerate(answer.ranking, 1)
    )
    table = (
        f"<table><tr><th>#</th><th>study</th><th>best {_e(answer.metric)}</th><th>noise</th>"
        f"<th>gap to the next</th></tr>{rows}</table>"
    )
    items = [f"<li>chosen: <b>{_e(c)}</b></li>" for c in answer.chosen]
    items += [f"<li>trust: {_e(t)}</li>" for t in answer.trust]
    items += [f"<li>failed: {_e(t)}</li>" for t in answer.failures]
    undermined = "; ".join(answer.undermining) or "no warning on the top studies"
    items.append(f"<li>undermined by: {_e(undermined)}</li>")
    items.append(f"<li>promotion: <b>{_e(answer.verdict)}</b></li>")
    if answer.next_step:
        changes = "".join(f"<li>{_e(c)}</li>" for c in answer.next_step[1:])
        items.append(f"<li>next: {_e(answer.next_step[0])}<ul>{changes}</ul></li>")
    return (
        f'<section class="answer" data-section="answer"><h2>Answer</h2>{table}'
        f"<ul>{''.join(items)}</ul></section>"
    )


def _findings_section(findings: list[Finding]) -> str:
    """Every finding, most severe first, the severity coloured."""
    if not findings:
        return "<h2>Findings</h2><p>No findings.</p>"
    rows = []
    for f in by_severity(findings):
        color = SEVERITY_COLORS.get(f.severity, "#757575")
        badge = f'<span class="severity" style="background:{color}">{_e(f.severity)}</span>'
        rows.append([badge, _e(f.kind), _e(f.study or ""), _e(f.param or ""), _e(f.message)])
    table = _table(["severity", "kind", "study", "param", "message"], rows)
    return f"<h2>Findings ({len(findings)})</h2>{table}"


def _failures_section(studies: list[StudyRecord]) -> str:
    """Every failed trial's error, grouped by error per study (the ``failed`` findings say
    where they happen); the whole message folded under its first line."""
    rows = []
    for s in studies:
        for group in failure_groups(s):
            trials = sorted(group.trials, key=lambda t: t.number)
            values = "<br>".join(
                _e(f"{t.number}: " + " ".join(f"{k}={_fmt(v)}" for k, v in t.params.items()))
                for t in trials
            )
            full = _e(str(trials[0].error))
            message = f"<details><summary>{_e(group.error)}</summary><pre>{full}</pre></details>"
            rows.append([_e(s.name), str(len(trials)), message, values])
    if not rows:
        return ""
    header = ["study", "trials", "error (the first trial's whole message)", "trial: values"]
    return f'<h2 data-section="failures">Failed trials</h2>{_table(header, rows)}'


def _compute_section(studies: list[StudyRecord]) -> str:
    """Compute spent per study: training length, wall time, and what pruning saved."""
    rows = []
    for s in studies:
        finished = [t for t in s.trials if t.state in ("complete", "infeasible", "pruned")]
        pruned = [t for t in finished if t.state == "pruned"]
        steps = sum(t.steps or 0 for t in finished)
        seconds = sum((t.finished or 0) - (t.started or 0) for t in finished if t.started)
        saved = steps_saved(pruned)
        rows.append(
            [_e(s.name), _e(s.pruner), f"{steps:,}", f"{seconds:,.1f}", str(len(pruned)),
             f"{saved:,}"]
        )  # fmt: skip
    header = ["study", "pruner", "steps trained", "trial seconds", "pruned", "steps saved"]
    return "<h2>Compute spent</h2>" + _table(header, rows)


VERDICT_COLORS: dict[str, str] = {
    Verdict.PROMOTED: "#2e7d32",
    Verdict.REJECTED: "#757575",
    Verdict.BLOCKED: "#c62828",
}


def _decision_section(page: _Page, decision: DecisionRecord | None, skipped: str | None) -> str:
    """Verdict, reason, the per-seed values and their paired plot; or why there is none."""
    if decision is None:
        why = f"Promotion skipped: {_e(skipped)}." if skipped else "No promotion decision yet."
        return f"<h2>Promotion decision</h2><p>{why}</p>"
    color = VERDICT_COLORS.get(decision.verdict, "#222")
    rows = [
        [_e(s), _e(_fmt(b)), _e(_fmt(c)), _e(_fmt(c - b) if _numbers(b, c) else "")]
        for s, c, b in zip(
            decision.seeds, decision.candidate_values, decision.incumbent_values, strict=False
        )
    ]
    candidate = decision.candidate
    details = [
        "<h2>Promotion decision</h2>",
        f'<p>Verdict: <strong style="color:{color}">{_e(decision.verdict)}</strong></p>',
        f"<p>Reason: {_e(decision.reason)}</p>",
        f"<p>Candidate: {_e(candidate)}</p>" if candidate else "",
        _table(["seed", "incumbent", "candidate", "candidate - incumbent"], rows) if rows else "",
        _looks_table(decision),
        page.figure("decision", figures.decision_figure(decision.to_dict())),
    ]
    return "\n".join(d for d in details if d)


def _looks_table(decision: DecisionRecord) -> str:
    """Sequential reruns: how the evidence accumulated, look by look, and what it saved."""
    looks = decision.looks
    if not looks:
        return ""
    rows = [
        [str(x["n"]), _e(_fmt(x["effect"])), _e(f"{_fmt(x['ci_low'])} to {_fmt(x['ci_high'])}"),
         _e(t_text(x["t"])), _e(x.get("view", "paired")),
         "-" if x["bound"] is None else f"{x['bound']:.2f}", _e(x["outcome"])]
        for x in looks
    ]  # fmt: skip
    cap, used, runs = decision.cap, looks[-1]["n"], decision.runs_saved
    saved = f"<p>{used} of at most {cap} seeds each: {runs} runs saved.</p>" if runs else ""
    header = ["seeds", "mean improvement", "interval", "t", "read as", "boundary", "then"]
    return "<h3>Evidence by look (sequential reruns)</h3>" + _table(header, rows) + saved


def _numbers(*values: Any) -> bool:
    return all(is_real(v) for v in values)
