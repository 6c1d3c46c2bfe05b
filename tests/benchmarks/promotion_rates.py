"""Sequential promotion on planted truth: how often a gain of 0-3 single-run noise sds is
promoted, and after how many seeds, at caps of 10, 5 and 4, with the two runs of a seed
uncorrelated (the seed pairs nothing) or correlated 0.5 (the same initial weights and data
order, a small change between them). 4,000 simulated decisions a cell; the tests
(``tests/promotion_tests/test_sequential.py``) hold the same simulation to its rates.

    uv run python -m tests.benchmarks.promotion_rates
"""

from __future__ import annotations

import statistics

import numpy as np

from orchestrator.promotion.sequential import look
from orchestrator.rounds.promotion_config import looks


def simulated(
    gain: float, cap: int, rho: float = 0.0, decisions: int = 4000
) -> tuple[float, list[int]]:
    """(share promoted, seeds a side each decision read) of sequential decisions on normal
    runs: the candidate ``gain`` single-run noise sds better than the incumbent, the two
    runs of a seed correlated ``rho`` (0: the seed pairs nothing, as between
    configurations of other shapes)."""
    rng = np.random.default_rng(7)
    schedule, promoted, used = looks(cap), 0, []
    for _ in range(decisions):
        inc, own = rng.normal(0.0, 1.0, cap), rng.normal(0.0, 1.0, cap)
        cand = gain + rho * inc + np.sqrt(1 - rho**2) * own
        for n in schedule:
            seen = look(list(cand[:n]), list(inc[:n]), schedule, 0.05)
            if seen.outcome != "continue":
                break
        promoted += seen.outcome == "promote"
        used.append(seen.n)
    return promoted / decisions, used


def main() -> None:
    print(
        "| cap | seeds' correlation | nothing differs | 1 sd | 2 sd | 3 sd | mean seeds at 3 sd |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for cap in (10, 5, 4):
        for rho in (0.0, 0.5):
            cells = [simulated(gain, cap, rho) for gain in (0.0, 1.0, 2.0, 3.0)]
            shares = " | ".join(f"{100 * share:.1f}%" for share, _ in cells)
            print(f"| {cap} | {rho:g} | {shares} | {statistics.fmean(cells[-1][1]):.2f} |")


if __name__ == "__main__":
    main()
