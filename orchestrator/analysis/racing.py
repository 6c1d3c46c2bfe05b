"""Racing: a scientific value already clearly behind stops at half its budget.

Every study of a round gets the same quasi-random nuisance points, so after half of them
each value has been tuned over the same half of the space. A value whose best is behind
the leader's by more than ``RACE_GAP`` spreads of the difference (each best's tuning spread:
its sampling noise or the spread of its study's top three trials,
:func:`~orchestrator.analysis.noise.tuning_spread`, a cautious margin, wider than the
measured noise the answer quotes) would need the second half to find
something far better than anything the first half found, where the leader's did not;
its remaining trials are better spent elsewhere. The margin is wider than the comparison's
``CLEAR_GAP`` (a stop cannot be undone within the round), and the answer and the summary
say which value stopped, where and why, so the comparison stays readable as fair.

Pure: study records (their first half) in, the studies to stop with the reason out;
measured on planted truth in ``tests/analysis_tests/test_racing_rates.py``.
"""

from __future__ import annotations

import dataclasses
import math

from orchestrator.analysis.model import StudyRecord
from orchestrator.analysis.noise import tuning_spread
from orchestrator.analysis.outcomes import fmt, objective_values

RACE_GAP = 2.5  # noises of the difference beyond which a value is out of the race


def first_trials(study: StudyRecord, n: int) -> StudyRecord:
    """The study as it stood after its first ``n`` finished trials (by trial number), so
    the decision is the same whenever it is taken again on a resumed round."""
    ordered = sorted(study.trials, key=lambda t: t.number)
    finished = [
        t for t in ordered if t.state in ("complete", "infeasible", "pruned") and not t.carried
    ]  # its own trials: carried ones (earlier rounds') would judge it on another round
    return dataclasses.replace(study, trials=finished[:n])


def behind(studies: list[StudyRecord]) -> dict[str, str]:
    """Each study clearly behind the leader (see the module docstring), with why."""
    bests = {s.name: objective_values(s)[0] for s in studies if objective_values(s)}
    if len(bests) < 2:
        return {}
    maximize = studies[0].maximize
    leader = max(bests, key=bests.__getitem__) if maximize else min(bests, key=bests.__getitem__)
    by_name = {s.name: s for s in studies}
    lead_noise = tuning_spread(by_name[leader])
    if lead_noise is None:
        return {}
    out = {}
    for name, best in bests.items():
        noise = tuning_spread(by_name[name])
        if name == leader or noise is None:
            continue
        gap, spread = abs(bests[leader] - best), math.hypot(lead_noise, noise)
        if gap > RACE_GAP * spread:
            out[name] = (
                f"its best {fmt(best)} after {len(objective_values(by_name[name]))} complete "
                f"trials is behind {leader}'s {fmt(bests[leader])} by {fmt(gap)}, more than "
                f"{RACE_GAP:g} noises {fmt(spread)} of the difference"
            )
    return out
