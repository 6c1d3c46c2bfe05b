"""The noise quoted beside a value is measured, and no finding asks for trials a finite
space does not have (issue 25), on planted truth through the analysis functions.

Planted: a deterministic objective on a grid of 23 values (all tried), a noisy one whose
configs were tried twice (its noise known), and a learning-rate sweep over five decades
like ``round_0`` (no noise measured: none is quoted). Rates over 40 seeds
(``planted.SEEDS``) where a case is statistical.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from orchestrator.analysis.answer import format_answer, round_answer
from orchestrator.analysis.measured import measured_noise
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.next_round import draft_next_round, draft_summary, render
from orchestrator.analysis.space_checks import density
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.decision_record import DecisionRecord
from tests.analysis_tests.planted import SEEDS, bowl_study, rate

CFG = AnalysisConfig()
GRID = [float(x) for x in range(-8, 15)]  # 23 values


def grid_study(values: list[float], xs: list[float], metric: str = "loss") -> StudyRecord:
    pairs = enumerate(zip(xs, values, strict=True))
    trials = [TrialRecord(i, "complete", v, {"x": x}) for i, (x, v) in pairs]
    return StudyRecord("det", {}, "minimize", metric, {"x": [{"low": -8.0, "high": 14.0}]},
                       trials, sampler="grid", grid={"x": GRID})  # fmt: skip


def deterministic(xs: list[float]) -> StudyRecord:
    return grid_study([(x - 3.0) ** 2 / 4 + 0.25 for x in xs], xs)


def test_a_deterministic_objective_on_a_fully_tried_grid_gets_no_misfit_and_no_ask():
    study = deterministic(GRID)
    assert density(study, CFG) == []  # every point tried: nothing more to run
    line = format_answer(round_answer("q", [study], [])).splitlines()[2]
    assert line == (
        "    1. det: 0.25 (noise not measured: no repeated config or seed rerun; seed reruns "
        "measure it (stage=promote, or repeat a config))"
    )
    rerun = DecisionRecord("r", "promoted", candidate_study="det", candidate_values=[0.25] * 3,
                           incumbent_values=[2.5] * 3)  # fmt: skip
    line = format_answer(round_answer("q", [study], [], rerun)).splitlines()[2]
    assert line == "    1. det: 0.25 +- 0 (deterministic: 6 seed reruns gave identical values)"


def test_a_grid_point_tried_twice_with_the_same_value_says_deterministic():
    study = deterministic(GRID[:13] + [3.0])
    noise = measured_noise(study)
    assert noise.value == 0.0 and noise.source.startswith("deterministic: 1 repeated config")


def test_a_nearly_exhausted_grid_is_asked_for_at_most_what_is_left():
    # 21 of 23 tried, and a narrow dip the density check would map with 21 more
    xs = GRID[:21]
    values = [1.0 + 0.001 * i for i in range(21)]
    values[5] = 0.2
    study = dataclasses.replace(grid_study(values, xs, "val_error"), val_examples=100_000)
    (finding,) = density(study, CFG)
    assert finding.suggestion == {"more_trials": 2}
    assert "the space has 2 untried configurations left" in finding.message


def test_choices_and_integer_ranges_are_counted_too():
    space = {"act": [{"choices": ["relu", "tanh"]}], "blocks": [{"low": 1, "high": 3}]}
    points = [(a, b) for a in ("relu", "tanh") for b in (1, 2, 3)]  # all six tried
    trials = [TrialRecord(i, "complete", float(i), {"act": a, "blocks": b})
              for i, (a, b) in enumerate(points)]  # fmt: skip
    assert density(StudyRecord("s", {}, "minimize", "loss", space, trials), CFG) == []


def noisy_repeats(seed: int, sigma: float = 0.02) -> StudyRecord:
    """Twelve configs of a bowl, each tried twice, the objective blurred by ``sigma``."""
    rng = np.random.default_rng(seed)
    xs = [float(x) for x in np.linspace(-8, 14, 12)] * 2
    values = [0.5 + 0.001 * (x - 3) ** 2 + sigma * rng.standard_normal() for x in xs]
    return grid_study(values, xs)


def test_the_noise_of_a_noisy_objective_is_measured_from_its_repeats_and_quoted():
    ratios = [measured_noise(noisy_repeats(seed)).value / 0.02 for seed in SEEDS]
    assert 0.85 <= float(np.mean(ratios)) <= 1.1  # the pooled spread finds the planted 0.02
    assert (
        rate(lambda seed: 0.5 <= measured_noise(noisy_repeats(seed)).value / 0.02 <= 1.5) >= 0.95
    )
    text = format_answer(round_answer("q", [noisy_repeats(0)], []))
    assert "(spread of 12 repeated configs)" in text and " +- 0.0" in text


def sweep(seed: int, val_examples: int | None) -> StudyRecord:
    """round_0: nine learning rates over five decades; error from 0.14 to 0.9."""
    rng = np.random.default_rng(seed)
    lrs = [3.0, 1.0, 0.3, 0.1, 0.03, 0.01, 0.001, 1.0e-4, 1.0e-5]
    errors = [min(0.9, 0.14 + 0.1 * abs(np.log10(lr) + 1) ** 1.5) + 0.01 * rng.standard_normal()
              for lr in lrs]  # fmt: skip
    trials = [TrialRecord(i, "complete", float(e), {"optimizer.lr": lr})
              for i, (lr, e) in enumerate(zip(lrs, errors, strict=True))]  # fmt: skip
    return StudyRecord("round_0", {}, "minimize", "val_error",
                       {"optimizer.lr": [{"low": 1e-5, "high": 3.0, "log": True}]}, trials,
                       sampler="grid", val_examples=val_examples,
                       grid={"optimizer.lr": lrs})  # fmt: skip


def test_a_wide_sweep_quotes_no_misfit():
    def quoted(seed: int, examples: int | None) -> str:
        return format_answer(round_answer("q", [sweep(seed, examples)], [])).splitlines()[2]

    assert (
        rate(lambda s: "noise not measured" in quoted(s, None) and "+-" not in quoted(s, None))
        == 1.0
    )
    # with a known validation size, its sampling noise (0.011 at 0.14 on 1,000) is quoted
    assert rate(lambda s: "(sampling noise on 1000 examples)" in quoted(s, 1000)) == 1.0
    assert rate(lambda s: measured_noise(sweep(s, 1000)).value < 0.02) == 1.0


def test_density_is_silent_on_deterministic_smooth_bowls_and_still_fires_on_narrow_dips():
    assert rate(lambda s: bool(density(bowl_study(s, noise=0.0, val_examples=None), CFG))) == 0.0
    assert rate(lambda s: bool(density(bowl_study(s, width=0.01), CFG))) >= 0.95


def test_the_draft_and_the_summaries_count_the_same_changes():
    raw = {"name": "r", "goal": "g", "budget": {"seed": 0}}
    draft, reasons = draft_next_round(raw, [], {"r": {}})
    summary = draft_summary(reasons)
    assert f"# Changes ({summary}):" in render(draft, reasons, "r")
    answer = round_answer("q", [deterministic(GRID)], [], None, reasons, "r/next.yaml")
    assert answer.next_step[0] == f"the next-round draft r/next.yaml ({summary})"
    assert draft_summary(reasons[:1]) == "no change but a new sampler seed"


def test_a_gap_cleared_only_by_sampling_noise_says_the_seed_noise_is_not_measured():
    """The validation set's sampling noise is a lower bound: a gap that clears it is not
    called clear "beyond noise" while no retraining measured the seed-to-seed noise."""
    from orchestrator.analysis.answer import Ranked, _beyond
    from orchestrator.analysis.measured import Noise

    sampling = Noise(0.0084, "sampling noise on 1000 examples")
    reruns = Noise(0.07, "spread of 10 seed reruns")
    top = [Ranked("a", 0.077, 0.0084, "clear", measured=sampling),
           Ranked("b", 0.196, 0.0126, measured=sampling)]  # fmt: skip
    assert _beyond(top).startswith("beyond the validation set's sampling noise")
    assert "seed-to-seed noise, often larger, is not measured" in _beyond(top)
    measured = [Ranked("a", 0.077, 0.07, "clear", measured=reruns),
                Ranked("b", 0.4, 0.07, measured=reruns)]  # fmt: skip
    assert _beyond(measured) == "beyond noise"
    assert _beyond([measured[0], top[1]]) != "beyond noise"  # the runner-up's seeds unmeasured
