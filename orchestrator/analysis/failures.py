"""Failed trials (the trainer raised), counted: grouped by error and by where they happen.

A failed trial has no value, so every other check leaves it out; a round where a third of
the trials crashed on one categorical value looked clean (issue 26). Here the failures are
grouped by their error (exception type and the first line of its message) and, per group,
by the values they happen at: a categorical value at which every trial failed so (and
which no other value explains), or the end of a numeric range beyond every trial that ran
(the same rule as the infeasible region, :func:`~orchestrator.analysis.outcomes.end_cluster`).
The worker's own faults (an interrupt, a dead worker, a storage error; the trial was retried
with the same values) say nothing about the values and are not counted.

Pure: a :class:`StudyRecord` and the thresholds in, findings out; measured on planted
failures in ``tests/analysis_tests/test_failure_rates.py``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.outcomes import end_cluster, fmt
from orchestrator.analysis.search_space import is_number, is_range
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.findings import Finding, Kind, Severity
from orchestrator.store.record import trainer_error

ERROR_CHARS = 200  # an error's first line is cut here in messages (the report keeps it all)
_RAN = ("complete", "infeasible", "pruned")  # trials that ran: their values did not crash


@dataclass(frozen=True)
class FailureGroup:
    """The trials of one study that failed with the same error."""

    error: str  # ``TYPE: first line of the message``
    trials: list[TrialRecord]


def error_key(error: str) -> str:
    """The error's first non-empty line, cut to ``ERROR_CHARS``: ``KeyError: 'swish'``."""
    line = next((x.strip() for x in error.splitlines() if x.strip()), error.strip())
    return line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 3] + "..."


def trainer_failures(study: StudyRecord) -> list[TrialRecord]:
    """The study's trials that failed because the trainer (or their config) raised."""
    return [t for t in study.trials if t.state == "failed" and trainer_error(t.error)]


def failure_groups(study: StudyRecord) -> list[FailureGroup]:
    """The trainer failures by error, the largest group first (ties: the earliest trial)."""
    groups: dict[str, list[TrialRecord]] = defaultdict(list)
    for t in trainer_failures(study):
        groups[error_key(str(t.error))].append(t)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[1][0].number))
    return [FailureGroup(error, trials) for error, trials in ordered]


def attempted(study: StudyRecord) -> list[TrialRecord]:
    """Trials whose values were tried: ran to an outcome, or failed in the trainer."""
    return [t for t in study.trials if t.state in _RAN] + trainer_failures(study)


MIN_AT_VALUE = 3  # trials that failed at a categorical value before it "always fails"


def failing_choices(
    study: StudyRecord, group: FailureGroup, *, min_cluster: int = MIN_AT_VALUE
) -> tuple[str, list[Any]] | None:
    """``(param, values)``: a categorical param whose ``values`` hold every trial of the
    group, where every trial tried failed with its error (at least ``min_cluster`` at each
    value: a flaky error at 20% strikes both trials of a value once in 25), while another
    value of it ran. The param with the fewest such values wins (the
    most specific explanation; ties: search-space order)."""
    numbers = {t.number for t in group.trials}
    tried_trials = attempted(study)
    best: tuple[str, list[Any]] | None = None
    for path, alternatives in study.search_space.items():
        if not any("choices" in spec for spec in alternatives):
            continue
        if any(path not in t.params for t in group.trials):
            continue
        tried: dict[Any, list[TrialRecord]] = defaultdict(list)
        for t in tried_trials:
            if path in t.params:
                tried[_hashable(t.params[path])].append(t)
        values = {_hashable(t.params[path]) for t in group.trials}
        always = all(
            len(tried[v]) >= min_cluster and all(t.number in numbers for t in tried[v])
            for v in values
        )
        others_ran = any(v not in values for v in tried)
        if always and others_ran and (best is None or len(values) < len(best[1])):
            best = (path, sorted(values, key=str))
    return best


def failing_end(
    study: StudyRecord, group: FailureGroup, *, min_cluster: int = 2
) -> tuple[str, int, str, float, float] | None:
    """``(param, count, side, first_failed, last_ran)``: all of the group's failures (at
    least ``min_cluster``) beyond every trial that ran, at one end of a numeric range (the
    first such param in search-space order). All, not half as for the infeasible region: a
    flaky error strikes anywhere, and two of four strays at an end are no region (measured:
    false claims on a flaky error fell from up to 7.5% to the rates in the README)."""
    best: tuple[str, int, str, float, float] | None = None
    for path, alternatives in study.search_space.items():
        if not any(is_range(spec) for spec in alternatives):
            continue
        ran = [t.params[path] for t in study.trials
               if t.state in _RAN and is_number(t.params.get(path))]  # fmt: skip
        bad = [t.params[path] for t in group.trials if is_number(t.params.get(path))]
        found = end_cluster(ran, bad, len(group.trials), min_cluster)
        if found is None or found[0] < len(group.trials):
            continue  # some of its failures sit among trials that ran: no end of the range
        if best is None or found[0] > best[1]:
            best = (path, *found)
    return best


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | None) else repr(value)


def _severity(fraction: float, cfg: AnalysisConfig) -> Severity:
    if fraction >= cfg.failed_block:
        return Severity.BLOCK
    return Severity.WARN if fraction >= cfg.failed_warn else Severity.INFO


def _numbers(trials: list[TrialRecord], shown: int = 5) -> str:
    numbers = [str(t.number) for t in sorted(trials, key=lambda t: t.number)]
    more = f" and {len(numbers) - shown} more" if len(numbers) > shown else ""
    return ("trial " if len(numbers) == 1 else "trials ") + ", ".join(numbers[:shown]) + more


def _where(
    study: StudyRecord, group: FailureGroup, min_cluster: int
) -> tuple[str | None, str, dict[str, Any]]:
    """(param, the message clause, the suggestion) for where the group's failures happen."""
    n = len(group.trials)
    choices = failing_choices(study, group, min_cluster=max(min_cluster, MIN_AT_VALUE))
    if choices is not None:
        path, values = choices
        shown = ", ".join(map(str, values))
        every = f"all {n} trials with {path}={shown}" if len(values) == 1 else (
            f"all {n} trials with {path} in {{{shown}}}"
        )  # fmt: skip
        clause = (
            f"; {every} failed this way and its other values ran, so drop {shown} from "
            f"{path}'s choices"
        )
        return path, clause, {"param": path, "drop": values}
    end = failing_end(study, group, min_cluster=min_cluster)
    if end is not None:
        path, count, side, first_bad, last_good = end
        sign = ">=" if side == "high" else "<="
        clause = (
            f"; all {count} trials with {path} {sign} {fmt(first_bad)} failed this way, so "
            f"the range should stop at {fmt(last_good)}, the {side}est value that ran"
        )
        return path, clause, {"param": path, side: last_good}
    return None, "", {}


def failed(study: StudyRecord, cfg: AnalysisConfig, *, min_cluster: int = 2) -> list[Finding]:
    """One finding per error the study's trials failed with, where they happen.

    ``fraction = failed with this error / trials tried`` (complete, infeasible, pruned and
    trainer-failed): ``block`` from ``failed_block`` (the training code is broken; promoting
    from the study is unsafe), ``warn`` from ``failed_warn``, else ``info``. The message
    names the error, the trials and, when the failures sit at a categorical value or at one
    end of a numeric range, that place; the suggestion is then ``{"param": p, "drop":
    [values]}`` or ``{"param": p, "high": last_ran}`` (or ``low``), which the next-round
    draft applies. Silent without trainer failures.
    """
    findings = []
    tried = len(attempted(study))
    for group in failure_groups(study):
        n = len(group.trials)
        fraction = n / tried
        severity = _severity(fraction, cfg)
        param, clause, suggestion = _where(study, group, min_cluster)
        message = (
            f"{n} of {tried} trials ({fraction:.0%}) failed with {group.error} "
            f"({_numbers(group.trials)}){clause}"
        )
        if severity == Severity.BLOCK:
            message += (
                f"; at least the {cfg.failed_block:.0%} that points to broken training code: "
                "fix it before trusting or re-tuning this study"
            )
            suggestion["check_training_code"] = True
        findings.append(
            Finding(Kind.FAILED, severity, message + ".", study.name, param, suggestion)
        )
    return findings
