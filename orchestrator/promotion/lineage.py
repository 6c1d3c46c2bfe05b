"""The lineage of incumbents, round by round, from the ledger (``stage=history``).

Apart from the promotion machinery so the command that only reads the ledger starts in
a fraction of a second.
"""

from __future__ import annotations

from orchestrator.store.decision_record import Verdict
from orchestrator.store.ledger import DecisionRow


def format_history(rows: list[DecisionRow]) -> str:
    """The lineage of incumbents, round by round."""
    if not rows:
        return "no promotion decisions yet: run a round (orchestrator round=<name>)"
    lines = ["lineage of incumbents (base config first):", "  base config"]
    for row in rows:
        mark = "->" if row.verdict == Verdict.PROMOTED else "  "
        lines.append(
            f"  {mark} {row.round_name}: {row.verdict} ({row.candidate_study} trial "
            f"{row.candidate_trial}; effect {row.effect:+.4g} "
            f"[{row.ci_low:+.4g}, {row.ci_high:+.4g}]) {row.created_at:%Y-%m-%d %H:%M}"
        )
    return "\n".join(lines)
