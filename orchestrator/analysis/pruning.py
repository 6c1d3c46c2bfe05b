"""What pruning did to a round: said as findings, since it changes what the checks can see.

A pruned trial has no final value, so the boundary, density and importance checks and the
axis plots leave it out (they read complete trials only). In an exploitation round that is
the point; in an exploration round (``qmc``, ``grid``, or scientific values compared) it
hides exactly what the round is for, so it is a warning there (``rounds/pruning.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.outcomes import objective_values
from orchestrator.rounds.pruning import EXPLORING_SAMPLERS, exploring
from orchestrator.store.findings import Finding, Kind, Severity


@dataclass(frozen=True)
class CutShort:
    """A pruned trial that had reached a value better than its study's best complete one."""

    trial: int
    best: float  # the best value it reported before it was cut
    at_step: int  # where it reported it
    cut_at: int | None  # where it was stopped (its last step)


def cut_short(study: StudyRecord) -> CutShort | None:
    """The study's pruned trial with the best reported value, when that beats every complete
    trial of the study (or there is none): what pruning hid from the ranking. None when
    pruning cut nothing better than what ran to the end."""
    maximize = study.maximize
    best: CutShort | None = None
    for t in study.trials:
        if t.state != "pruned" or not t.intermediate:
            continue
        order = sorted(
            t.intermediate.items(), key=lambda kv: (-kv[1] if maximize else kv[1], kv[0])
        )
        step, value = order[0]  # its best report (the earliest of equals)
        if best is None or (value > best.best if maximize else value < best.best):
            cut_at = t.steps if t.steps is not None else max(t.intermediate)
            best = CutShort(t.number, value, step, cut_at)
    complete = objective_values(study)
    if best is None or (
        complete and not (best.best > complete[0] if maximize else best.best < complete[0])
    ):
        return None
    return best


def steps_saved(trials: list[TrialRecord]) -> int:
    """The steps pruned trials did not train: their length less where they were stopped."""
    return sum(
        t.max_steps - t.steps
        for t in trials
        if t.state == "pruned"
        and t.max_steps is not None
        and t.steps is not None
        and t.max_steps > t.steps
    )


def pruning_findings(studies: list[StudyRecord]) -> list[Finding]:
    """One finding per study that pruned (or had a pruner on in an exploration round)."""
    out = []
    for s in studies:
        pruned = [t for t in s.trials if t.state == "pruned"]
        if s.pruner == "none" and not pruned:
            continue
        finished = [t for t in s.trials if t.state in ("complete", "infeasible", "pruned")]
        saved = steps_saved(pruned)
        count = f"{len(pruned)} of {len(finished)} trials were pruned"
        if saved:
            count += f" ({saved:,} steps not trained)"
        if exploring(s.sampler, bool(s.point)):
            why = (
                f"sampler {s.sampler}" if s.sampler in EXPLORING_SAMPLERS else "scientific values"
            )
            out.append(
                Finding(
                    Kind.PRUNING,
                    Severity.WARN,
                    f"Pruner {s.pruner} was on in an exploration round ({why}): {count}. A "
                    "pruned trial has no final value, so the boundary, density and importance "
                    "checks and the axis plots leave it out, and the study's best may lose to "
                    "a trial cut short before it improved. Run exploration rounds without a "
                    "pruner; prune in exploitation rounds (tpe or gp, no scientific values).",
                    s.name,
                    None,
                    {"round.budget.pruner": "none"},
                )
            )
        elif pruned:
            out.append(
                Finding(
                    Kind.PRUNING,
                    Severity.INFO,
                    f"Pruner {s.pruner}: {count}; the checks read the complete trials only.",
                    s.name,
                    None,
                    {},
                )
            )
    return out
