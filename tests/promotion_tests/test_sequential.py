"""Sequential reruns on planted truth: the playbook's error rates at fewer runs, and
verdicts that say what was seen."""

from __future__ import annotations

import statistics

import numpy as np
import optuna
import pytest
from scipy import stats

from orchestrator.config.experiment import builtin_experiment
from orchestrator.promotion.decision import decide, decide_sequential
from orchestrator.promotion.reruns import rerun_values
from orchestrator.promotion.sequential import Look, boundaries, look, readings
from orchestrator.rounds.promotion_config import PromotionConfig, looks
from orchestrator.trainers.cache import TrainerCache
from tests.benchmarks import promotion_rates
from tests.support import trainers

optuna.logging.set_verbosity(optuna.logging.WARNING)


def simulated(
    effect_sds: float, decisions: int = 4000, cap: int = 10, rho: float = 0.0
) -> tuple[float, float]:
    """(share promoted, median seeds per side): ``promotion_rates.simulated``, the
    benchmark's planted truth (the seed's two runs correlated ``rho``)."""
    promoted, used = promotion_rates.simulated(effect_sds, cap, rho, decisions)
    return promoted, statistics.median(used)


def test_the_schedule_and_its_boundaries():
    assert looks(10) == [2, 3, 5, 7, 10] and looks(5) == [2, 3, 5] and looks(3) == [2, 3]
    assert looks(2) == [2]
    bounds = boundaries((2, 3, 5, 7, 10), 0.05)
    assert bounds[0] == float("inf")  # two seeds never promote
    in_t = [b * stats.t.ppf(0.95, n - 1) for b, n in zip(bounds[1:], (3, 5, 7, 10), strict=True)]
    assert in_t == sorted(in_t, reverse=True)  # strict early, near the fixed test late
    assert bounds[1:] == boundaries((3, 5, 7, 10), 0.05)  # the look at 2 spends no alpha
    # one look that may promote: the fixed test of the narrower reading, its bar raised a
    # little (1 is either reading's own fixed test) for having had two readings to pick from
    assert 1.05 < boundaries((5,), 0.05)[0] < boundaries((2, 3), 0.05)[1] < 1.25


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.6, 0.9])
def test_nothing_differs_promoted_at_most_5_percent_whatever_the_seeds_pair(rho):
    promoted, median = simulated(0.0, rho=rho)
    assert promoted <= 0.055, promoted  # Monte Carlo error on 4,000 decisions: ~0.35 points
    assert median <= 3  # half of the candidates with nothing to show stop after two seeds


def test_one_side_noisier_than_the_other_keeps_the_error_rate():
    rng = np.random.default_rng(11)
    schedule, promoted = looks(4), 0
    for _ in range(4000):
        cand, inc = rng.normal(0.0, 2.0, 4), rng.normal(0.0, 1.0, 4)
        for n in schedule:
            seen = look(list(cand[:n]), list(inc[:n]), schedule, 0.05)
            if seen.outcome != "continue":
                break
        promoted += seen.outcome == "promote"
    assert promoted / 4000 <= 0.055, promoted / 4000


def test_each_reading_is_taken_where_it_is_the_narrower():
    rng = np.random.default_rng(3)
    inc = rng.normal(0.0, 1.0, 10)
    alike = inc + 0.5 + rng.normal(0.0, 0.1, 10)  # the seed fixes most of the run
    apart = 0.5 + rng.normal(0.0, 1.0, 10)  # the seed pairs nothing
    assert readings(list(alike), list(inc), 0.05).view == "paired"
    assert readings(list(apart), list(inc), 0.05).view == "independent"
    seen = look(list(alike[:3]), list(inc[:3]), [2, 3, 5], 0.05)
    assert "paired vs" in seen.line() and seen.view == "paired"


def gains_look(gains: list[float], schedule: list[int]):
    """A look at per-seed improvements over an incumbent that repeats itself exactly."""
    return look(gains, [0.0] * len(gains), schedule, 0.05)


def test_a_3_sd_gain_is_promoted_in_80_percent_at_60_percent_of_the_runs():
    promoted, median = simulated(3.0)
    assert promoted >= 0.95, promoted  # measured 99.9%
    assert median <= 0.6 * 5  # today's fixed rule trains 5 seeds a side


def test_an_unsettled_gain_earns_more_seeds_and_more_power_than_five_fixed():
    promoted, median = simulated(2.0)
    fixed = np.random.default_rng(7)
    fixed_promoted = sum(
        decide(list(fixed.normal(2.0, np.sqrt(2.0), 5)), [0.0] * 5, maximize=True,
               cfg=PromotionConfig(seeds=5, sequential=False)).verdict == "promoted"
        for _ in range(4000)
    ) / 4000  # fmt: skip
    assert promoted > fixed_promoted + 0.05, (promoted, fixed_promoted)  # 93% against 83%
    assert median >= 5


def repeated(gap: float, repeats: int = 40) -> tuple[int, list[int]]:
    """Real reruns with the ``noisy`` trainer: (promotions, seeds used) over ``repeats``
    sequential decisions of a candidate ``gap`` noise sds better, fresh seeds each time."""
    incumbent = builtin_experiment(trainer="tests.support.trainers.noisy")
    candidate = incumbent.with_values(
        {"model.init": "xavier", "data.label_noise": 0.05 - gap * trainers.NOISE}
    )
    promoted, used, cache = 0, [], TrainerCache()
    for rep in range(repeats):
        cfg = PromotionConfig(seeds=[rep * 100 + s for s in range(1, 11)])
        study = optuna.create_study()
        for n in cfg.schedule:
            seeds = cfg.seed_list[:n]
            inc = rerun_values(study, "incumbent", incumbent, seeds, {}, cache)
            cand = rerun_values(study, "candidate", candidate, seeds, {}, cache)
            better = [-v for v in cand], [-v for v in inc]  # minimised: larger is better
            seen = look(*better, cfg.schedule, cfg.alpha)
            if seen.outcome != "continue":
                break
        promoted += seen.outcome == "promote"
        used.append(seen.n)
    return promoted, used


def test_real_reruns_keep_the_rates_at_fewer_seeds():
    equal, used_equal = repeated(0.0, repeats=100)
    better, used_better = repeated(3.0)
    # at most 9 of 100: a 5% rate's binomial 95% upper bound
    assert equal <= 9 and better >= 32, (equal, better)
    assert statistics.median(used_better) <= 3 and statistics.median(used_equal) <= 3


def _verdict(cand: list[float], inc: list[float], **cfg) -> str:
    return decide(cand, inc, maximize=True, cfg=PromotionConfig(seeds=len(cand), **cfg)).reason


def test_verdicts_say_what_was_seen():
    assert _verdict([0.70, 0.71, 0.69, 0.70], [0.80, 0.82, 0.79, 0.81]).startswith("worse")
    noise = _verdict([0.80, 0.70, 0.85, 0.72], [0.78, 0.77, 0.76, 0.79])
    assert noise.startswith("within seed noise (the interval straddles zero)")
    small = _verdict([0.81, 0.82, 0.81, 0.83], [0.80, 0.80, 0.80, 0.81], min_improvement=0.05)
    assert small.startswith("better, but below min_improvement 0.05")


def test_a_sequential_decision_keeps_every_look_for_the_ledger():
    cfg = PromotionConfig(seeds=10)
    first = Look(3, 0.01, -0.01, 0.03, 1.2, 3.8, "continue")
    second = gains_look([0.02, 0.021, 0.019, 0.02, 0.022], cfg.schedule)
    decision = decide_sequential([first, second], cfg)
    assert decision.verdict == "promoted" and second.outcome == "promote"
    assert [x["n"] for x in decision.rule["looks"]] == [3, 5]
    assert "after 5 of at most 10 seeds" in decision.reason and "3 seeds: +0.01" in decision.reason


def _analytic_round(tmp_path, seeds: int = 10):
    from tests.promotion_tests.test_promotion import setup_round, small_round

    return setup_round(tmp_path, small_round(seeds=seeds))


def test_a_real_round_stops_once_settled_and_keeps_every_look(tmp_path):
    from orchestrator.promotion.promote import format_decision
    from tests.promotion_tests.test_promotion import do_promote

    rnd, start, storage, ledger = _analytic_round(tmp_path)
    row = do_promote(tmp_path, rnd, start, storage, ledger)
    # the analytic trainer gives every seed the same value: a clear gain is settled at 3
    assert row.verdict == "promoted" and row.seeds == [1, 2, 3]
    assert [x["n"] for x in row.rule["looks"]] == [2, 3] and row.rule["cap"] == 10
    text = format_decision(row)
    assert "seeds: 3 of at most 10 each (14 runs saved by stopping once settled)" in text
    assert "3 seeds: " in text and "settled, better" in text
    reruns = optuna.load_study(study_name="round_1/promotion", storage=storage).trials
    assert len(reruns) == 6


def test_a_sequential_decision_killed_mid_reruns_resumes_exactly(tmp_path, monkeypatch):
    from orchestrator.promotion import reruns as reruns_module
    from tests.promotion_tests.test_promotion import do_promote

    whole = do_promote(tmp_path / "whole", *_analytic_round(tmp_path / "whole"))
    rnd, start, storage, ledger = _analytic_round(tmp_path / "killed")
    train, calls = reruns_module._train, []

    def killed_on_the_fifth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt("killed mid-reruns")
        return train(*args, **kwargs)

    monkeypatch.setattr(reruns_module, "_train", killed_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        do_promote(tmp_path / "killed", rnd, start, storage, ledger)
    assert ledger.decisions() == []  # nothing decided on half the evidence
    monkeypatch.undo()
    row = do_promote(tmp_path / "killed", rnd, start, storage, ledger)
    assert (row.verdict, row.seeds, row.candidate_values, row.incumbent_values) == (
        whole.verdict,
        whole.seeds,
        whole.candidate_values,
        whole.incumbent_values,
    )


def test_the_report_shows_the_evidence_look_by_look():
    from orchestrator.report.round_report import _looks_table
    from orchestrator.store.decision_record import DecisionRecord

    first = Look(3, 0.01, -0.01, 0.03, 1.2, 3.8, "continue")
    second = Look(5, 0.02, 0.01, 0.03, 4.1, 3.34, "promote")
    rule = {"cap": 10, "looks": [vars(first), vars(second)]}
    html = _looks_table(DecisionRecord.from_dict({"rule": rule}))
    assert "Evidence by look" in html and html.count("<tr>") >= 3
    assert "5 of at most 10 seeds each: 10 runs saved" in html
    fixed = DecisionRecord.from_dict({"rule": {"rule": "paired_t"}})
    assert _looks_table(fixed) == ""  # a fixed decision: no table


def test_with_two_looks_the_first_only_stops_losers_and_the_last_is_the_fixed_test():
    assert boundaries((2, 3, 5), 0.05)[:2] == (float("inf"), float("inf"))
    assert boundaries((2, 3, 5), 0.05)[2] == boundaries((5,), 0.05)[0]
    clear = gains_look([0.05, 0.051, 0.049], [2, 3, 5])
    assert clear.outcome == "continue" and clear.bound is None and "no early win" in clear.line()
    assert gains_look([-0.05, -0.051, -0.049], [2, 3, 5]).outcome == "worse"
    promoted, median = simulated(2.0, cap=5)
    assert promoted >= 0.78  # measured 82%: the fixed five-seed test's power, kept


def test_a_gain_short_of_the_sequential_boundary_at_the_cap_is_called_not_settled():
    cfg = PromotionConfig(seeds=10)
    last = Look(10, 0.01, 0.001, 0.019, 2.2, 2.81, "end")
    decision = decide_sequential([last], cfg)
    assert decision.verdict == "rejected" and decision.reason.startswith("not settled")


def test_after_two_seeds_only_a_candidate_with_no_gain_at_all_stops():
    schedule = looks(10)
    assert gains_look([0.01, -0.02], schedule).outcome == "futile"  # mean below zero
    assert gains_look([0.0, 0.0], schedule).outcome == "futile"  # no gain at all
    small = gains_look([0.001, 0.0005], schedule)  # a little gain: more seeds, never a win
    assert small.outcome == "continue" and small.bound is None
    assert gains_look([-0.05, -0.051], schedule).outcome == "worse"


@pytest.mark.parametrize("effect_sds", [1.0, 2.0])
def test_the_look_at_two_seeds_costs_almost_no_power_and_saves_runs_on_no_gain(effect_sds):
    """Against the same schedule without the look at 2 seeds (fresh normal decisions)."""

    def share_and_seeds(schedule: list[int], effect: float) -> tuple[float, float]:
        rng = np.random.default_rng(11)
        promoted, used = 0, []
        for _ in range(4000):
            d = list(rng.normal(effect, np.sqrt(2.0), schedule[-1]))
            for n in schedule:
                seen = gains_look(d[:n], schedule)
                if seen.outcome != "continue":
                    break
            promoted += seen.outcome == "promote"
            used.append(seen.n)
        return promoted / 4000, statistics.fmean(used)

    for cap in (5, 10):
        with_two, without = looks(cap), looks(cap)[1:]
        assert with_two[0] == 2 and without[0] == 3  # the same looks but the one at 2 seeds
        power, _ = share_and_seeds(with_two, effect_sds)
        power_without, _ = share_and_seeds(without, effect_sds)
        assert power >= power_without - 0.02, (cap, power, power_without)
        _, seeds_null = share_and_seeds(with_two, 0.0)
        _, seeds_null_without = share_and_seeds(without, 0.0)
        assert seeds_null <= 0.9 * seeds_null_without, (cap, seeds_null, seeds_null_without)


def test_runs_saved_count_only_the_reruns_not_trained():
    from orchestrator.promotion.promote import _saved_runs
    from orchestrator.store.decision_record import runs_saved

    seeds = list(range(1, 6))
    assert _saved_runs(seeds, 2, {}) == 6  # both sides' seeds 3-5
    ledger = {s: 0.1 for s in seeds}  # the incumbent's five seeds came from the ledger
    assert _saved_runs(seeds, 2, ledger) == 3  # only the candidate's were spared
    assert runs_saved({"cap": 5, "saved_runs": 3}, 2) == 3
    assert runs_saved({"cap": 5}, 2) == 6  # an earlier ledger's decision: both sides
    assert runs_saved({"cap": 5, "saved_runs": 0}, 5) is None  # it read every seed


def test_seeds_that_all_agree_are_said_to_have_no_spread():
    seen = gains_look([0.03, 0.03, 0.03], [2, 3, 5])  # every seed the same improvement
    assert "t +inf (no spread)" in seen.line() and seen.outcome == "continue"


def test_the_calibration_reads_the_seeds_as_each_look_does():
    """The Monte Carlo behind the boundaries (vectorised) and a look (one decision) take
    the same narrower reading."""
    from orchestrator.promotion.sequential import _normalised

    rng = np.random.default_rng(5)
    for n in (2, 3, 5, 10):
        cand, inc = rng.normal(0.3, 1.0, (20, n)), rng.normal(0.0, 1.5, (20, n))
        z = _normalised(cand, inc, 0.05)
        for k in range(20):
            reading = readings(list(cand[k]), list(inc[k]), 0.05)
            mean = float(cand[k].mean() - inc[k].mean())
            assert z[k] == pytest.approx(mean / reading.width, rel=1e-9)


def test_the_report_says_no_spread_too():
    from orchestrator.report.round_report import _looks_table
    from orchestrator.store.decision_record import DecisionRecord

    seen = gains_look([0.03, 0.03, 0.03], [2, 3, 5])
    html = _looks_table(DecisionRecord.from_dict({"rule": {"cap": 5, "looks": [vars(seen)]}}))
    assert "+inf (no spread)" in html and "1000000000" not in html
