"""The answer is fair under pruning (issue 26), on planted curves (``rung_round``).

Measured over 200 seeds: when a pruner cut a losing value's best trial after it had
dipped below the winner (the case where Hyperband turned "within noise" into "clear"), the
answer says the comparison is not an equal one in 100% of rounds; when the pruned trials
were behind all along, it never does (0%) and the winner stays clear.
"""

from __future__ import annotations

from orchestrator.analysis.answer import NOT_EQUAL, format_answer, round_answer
from tests.analysis_tests.planted import rate
from tests.analysis_tests.planted_curves import rung_round


def says_not_equal(seed: int, hidden: bool) -> bool:
    answer = round_answer("q", rung_round(seed, hidden=hidden), [])
    return answer.ranking[0].gap_to_next == NOT_EQUAL and any(
        "pruning cut trial" in line for line in answer.trust
    )


def test_a_cut_trial_better_than_the_winner_makes_the_comparison_unequal():
    assert rate(lambda seed: says_not_equal(seed, hidden=True)) == 1.0


def test_trials_cut_while_behind_leave_the_answer_alone():
    assert rate(lambda seed: says_not_equal(seed, hidden=False)) == 0.0
    answer = round_answer("q", rung_round(0, hidden=False), [])
    assert answer.ranking[0].gap_to_next == "clear" and answer.ranking[1].cut is None


def test_the_ranking_reads_complete_trials_and_says_what_was_cut():
    answer = round_answer("q", rung_round(0, hidden=True), [])
    text = format_answer(answer)
    assert [r.study for r in answer.ranking] == ["r/act=tanh", "r/act=relu"]
    # no nuisance params: every trial repeats its study's one config, so their spread is
    # measured noise (of the complete trials)
    assert (
        "1. r/act=tanh: 0.148 +- 0.00417 (spread of 1 repeated config)   [not an equal "
        "comparison (pruned) to the next]" in text
    )
    assert "2. r/act=relu: 0.191 +- " in text  # its best complete trial, not the cut one
    assert (
        "trust: the winner r/act=tanh is clear of the runner-up on complete trials only, not of"
        " a trial pruning cut short (below): the comparison is not an equal one" in text
    )
    assert (
        "trust: pruning cut trial 5 of r/act=relu at step 8 after it reached 0.102 at step 4,"
        " better than its best complete trial (0.191); the ranking compares complete trials"
        " only, so it is not an equal comparison" in text
    )
