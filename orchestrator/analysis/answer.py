"""The round's answer, first: the question, the ranking and how far to trust it, the
findings that undermine it, the promotion verdict and the next step.

A round asks one question ("does a deeper CNN help?"); its findings table, most severe
first, leaves the reader to work the answer out. This puts it in one place, for the
terminal and the top of the report, from the same pure data: the ranking of the scientific
values by their best objective, each quoted with its measured noise and each gap judged
against it (:func:`~orchestrator.analysis.measured.measured_noise`: sampling noise, the
spread of repeats or seed reruns, a deterministic objective's 0; "not measured" rather
than a fit's misfit, and then the gap is not judged), the studies whose tuning looks
thin, the warn and block findings on the studies the ranking rests on, the failures on the
winner, the verdict once there is one, and the draft's changes.

Fair under pruning: the ranking reads complete trials only (a pruned trial's stored value
is where it was cut, not a result). A pruned trial that had reached a value better than
its study's best complete trial is said, and a winner's clear lead over a study whose cut
trial was not clearly behind it is "not an equal comparison" (issue 26: Hyperband cut
relu's best trial at the rung after its best epoch, and the answer called the winner
clear).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field

from orchestrator.analysis.measured import HOW_TO_MEASURE, Noise, measured_noise
from orchestrator.analysis.model import StudyRecord
from orchestrator.analysis.next_round import draft_summary
from orchestrator.analysis.noise import CLEAR_GAP
from orchestrator.analysis.outcomes import fmt, objective_values
from orchestrator.analysis.pruning import CutShort, cut_short
from orchestrator.store.decision_record import DecisionRecord
from orchestrator.store.findings import Finding, Kind, Severity


@dataclass(frozen=True)
class Ranked:
    """One scientific value (study) in the ranking."""

    study: str
    best: float | None
    noise: float | None  # measured (None: not measured)
    gap_to_next: str = ""  # "clear" | "within noise" | NOT_EQUAL | "" (last, or no noise)
    stopped: bool = False  # racing stopped it at half its budget
    cut: CutShort | None = None  # pruning cut a trial that had beaten the study's best
    measured: Noise | None = None  # the noise with what measured it, as quoted


NOT_EQUAL = "not an equal comparison (pruned)"


@dataclass(frozen=True)
class Answer:
    """What the round says, in the order a reader needs it."""

    question: str
    metric: str
    ranking: list[Ranked]
    trust: list[str]
    undermining: list[str]
    verdict: str
    next_step: list[str] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)  # a sweep's choice, with its reason
    failures: list[str] = field(default_factory=list)  # failed findings on the winner


def _gap(a: Ranked, b: Ranked) -> str:
    if a.best is None or b.best is None or a.noise is None or b.noise is None:
        return ""
    combined = math.hypot(a.noise, b.noise)
    return "clear" if abs(a.best - b.best) > CLEAR_GAP * combined else "within noise"


def _ranking(studies: list[StudyRecord], decision: DecisionRecord | None = None) -> list[Ranked]:
    """Ranked by the best complete trial: a pruned trial's value is where it was cut, never
    a result (what it hid is ``cut``, and judged in ``_fair``). Each with its measured noise
    (the decision's seed reruns count for the candidate's study)."""
    rows = []
    for s in studies:
        values = objective_values(s)
        noise = measured_noise(s, decision)
        best = values[0] if values else None
        rows.append(Ranked(s.name, best, noise.value, "", bool(s.stopped), cut_short(s), noise))
    maximize = bool(studies) and studies[0].maximize
    known = sorted(
        (r for r in rows if r.best is not None), key=lambda r: r.best or 0.0, reverse=maximize
    )
    ranked = known + [r for r in rows if r.best is None]
    ranked = [
        dataclasses.replace(r, gap_to_next=_gap(r, ranked[i + 1]) if i + 1 < len(ranked) else "")
        for i, r in enumerate(ranked)
    ]
    judged = ranked[0].gap_to_next == "clear" or (len(ranked) > 1 and not ranked[0].gap_to_next)
    if ranked and judged and _rival_cut(ranked, maximize):
        ranked[0] = dataclasses.replace(ranked[0], gap_to_next=NOT_EQUAL)
    return ranked


def _rival_cut(ranking: list[Ranked], maximize: bool) -> Ranked | None:
    """A losing study whose pruned trial had reached a value not clearly behind the
    winner's (with no measured noise: at least as good): the winner's lead rests on that
    trial being cut."""
    winner = ranking[0]
    if winner.best is None:
        return None
    for r in ranking[1:]:
        if r.cut is None:
            continue
        behind = winner.best - r.cut.best if maximize else r.cut.best - winner.best
        if winner.noise is None or r.noise is None:
            return r if behind <= 0 else None
        if behind <= CLEAR_GAP * math.hypot(winner.noise, r.noise):
            return r
    return None


def _beyond(ranking: list[Ranked]) -> str:
    """What the top two's gap clears: their measured noise, or (for either of them) only
    the validation set's sampling noise, a lower bound when retraining with another seed
    was never measured (on round_1 the seed-to-seed spread was ten times the sampling
    noise)."""
    sources = [r.measured.source if r.measured else "" for r in ranking[:2]]
    if any(source.startswith("sampling noise") for source in sources):
        return (
            "beyond the validation set's sampling noise (the seed-to-seed noise, often "
            f"larger, is not measured: {HOW_TO_MEASURE})"
        )
    return "beyond noise"


def _trust(ranking: list[Ranked], findings: list[Finding]) -> list[str]:
    lines = []
    if len(ranking) >= 2 and ranking[0].gap_to_next == "within noise":
        lines.append(
            f"the winner {ranking[0].study} is within the noise of {ranking[1].study}: the "
            "ranking of the top two is not established"
        )
    elif len(ranking) >= 2 and ranking[0].gap_to_next == "clear":
        lines.append(f"the winner {ranking[0].study} is clear of the runner-up {_beyond(ranking)}")
    elif len(ranking) >= 2 and ranking[0].gap_to_next == NOT_EQUAL:
        judged = ranking[0].noise is not None and ranking[1].noise is not None
        lines.append(
            f"the winner {ranking[0].study} "
            + ("is clear of" if judged else "leads (noise not measured)")
            + " the runner-up on complete trials only, not of a trial pruning cut short "
            "(below): the comparison is not an equal one"
        )
    elif len(ranking) >= 2 and ranking[1].best is not None:
        lines.append(
            f"the gap between {ranking[0].study} and {ranking[1].study} is not judged: the "
            f"noise of their best values is not measured ({HOW_TO_MEASURE})"
        )
    for r in ranking:
        if r.cut is not None:
            lines.append(_cut_line(r))
    thin = sorted(
        {
            f.study
            for f in findings
            if f.kind == Kind.COMPARISON
            and f.severity == Severity.WARN
            and f.study
            and "complete_trials" in f.suggestion
        }
    )
    if thin:
        lines.append(f"tuning looks thin in {', '.join(thin)} (see comparison findings)")
    return lines


def _cut_line(r: Ranked) -> str:
    cut = r.cut
    assert cut is not None
    than = (
        "no complete trial"
        if r.best is None
        else f"its best complete trial ({fmt(float(r.best))})"
    )
    where = f" at step {cut.cut_at}" if cut.cut_at is not None else ""
    return (
        f"pruning cut trial {cut.trial} of {r.study}{where} after it reached "
        f"{fmt(cut.best)} at step {cut.at_step}, better than {than}; the ranking compares "
        "complete trials only, so it is not an equal comparison"
    )


def _failures(ranking: list[Ranked], findings: list[Finding]) -> list[str]:
    """The failed-trial findings on the winner's study (or the whole round)."""
    winner = ranking[0].study if ranking else None
    return [
        f.message
        for f in findings
        if f.kind == Kind.FAILED and (f.study is None or f.study == winner)
    ]


def _undermining(ranking: list[Ranked], findings: list[Finding]) -> list[str]:
    """Warn and block findings on the top two studies or the whole round, by kind."""
    top = {r.study for r in ranking[:2]}
    serious = [
        f
        for f in findings
        if f.severity in (Severity.WARN, Severity.BLOCK)
        and (f.study in top or f.study is None)
        and f.kind != Kind.COMPARISON
    ]
    counts = Counter((f.severity, f.kind) for f in serious)
    order = sorted(counts.items(), key=lambda kv: (kv[0][0] != Severity.BLOCK, kv[0][1]))
    lines = []
    for (severity, kind), n in order:
        where = _where(serious, kind)
        lines.append(f"{n} {severity} {kind}" + (f" ({where})" if where else ""))
    return lines


def _where(findings: list[Finding], kind: str) -> str:
    params = sorted({f.param for f in findings if f.kind == kind and f.param})
    return ", ".join(params)


def _verdict(decision: DecisionRecord | None) -> str:
    if decision is None:
        return "not decided yet: promotion's seed reruns decide (stage=promote)"
    verdict = str(decision.verdict).upper()
    numbers = ""
    if decision.has_interval():
        effect, low, high = decision.effect, decision.ci_low, decision.ci_high
        numbers = f" (effect {fmt(effect)}, interval [{fmt(low)}, {fmt(high)}])"
    return f"{verdict}{numbers}: {decision.reason}".rstrip(": ")


def round_answer(
    goal: str,
    studies: list[StudyRecord],
    findings: list[Finding],
    decision: DecisionRecord | None = None,
    draft_changes: list[str] | None = None,
    draft_path: str | None = None,
) -> Answer:
    """The answer of a round from its studies, findings, decision and draft."""
    ranking = _ranking(studies, decision)
    next_step = []
    if draft_path:
        summary = draft_summary(list(draft_changes or []))
        next_step.append(f"the next-round draft {draft_path} ({summary})")
    next_step += list(draft_changes or [])
    chosen = [f.message for f in findings if f.kind == Kind.SWEEP]
    return Answer(
        chosen=chosen,
        question=goal,
        metric=studies[0].metric if studies else "",
        ranking=ranking,
        trust=_trust(ranking, findings),
        undermining=_undermining(ranking, findings),
        failures=_failures(ranking, findings),
        verdict=_verdict(decision),
        next_step=next_step,
    )


def format_answer(answer: Answer, max_changes: int = 5) -> str:
    """The answer as a block for the terminal."""
    lines = [f"answer: {answer.question}"]
    if answer.ranking:
        lines.append(f"  ranking by best {answer.metric} (+- its measured noise):")
        for i, r in enumerate(answer.ranking, 1):
            value = "no complete trial" if r.best is None else fmt(float(r.best))
            noise = f" {r.measured.quoted()}" if r.measured and r.best is not None else ""
            gap = f"   [{r.gap_to_next} to the next]" if r.gap_to_next else ""
            stopped = "   (stopped early: clearly behind)" if r.stopped else ""
            lines.append(f"    {i}. {r.study}: {value}{noise}{gap}{stopped}")
    for line in answer.chosen:
        lines.append(f"  chosen: {line}")
    for line in answer.trust:
        lines.append(f"  trust: {line}")
    for line in answer.failures:
        lines.append(f"  failed: {line}")
    if answer.undermining:
        lines.append(f"  undermined by: {'; '.join(answer.undermining)}")
    else:
        lines.append("  undermined by: no warning on the top studies")
    lines.append(f"  promotion: {answer.verdict}")
    if answer.next_step:
        lines.append(f"  next: {answer.next_step[0]}")
        lines += [f"    - {c}" for c in answer.next_step[1 : 1 + max_changes]]
        more = len(answer.next_step) - 1 - max_changes
        if more > 0:
            lines.append(f"    - ... and {more} more (see the draft)")
    return "\n".join(lines)
