"""Study checks on hand-built studies with planted properties (no training, no store).

Each planted property has a case where its finding must fire and one where it must stay
silent, so a check that always fires or never fires fails here.
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

import pytest

from orchestrator.analysis.importance import importance
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.round_checks import comparison, step_budget
from orchestrator.analysis.run import run_study_checks
from orchestrator.analysis.search_space import active_spec
from orchestrator.analysis.skipped import skipped_checks
from orchestrator.analysis.space_checks import (
    boundary,
    density,
    infeasible,
    infeasible_cluster,
)
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.findings import Finding

CFG = AnalysisConfig()
LR_SPACE = {"optimizer.lr": [{"low": 1e-5, "high": 1e-1, "log": True}]}
BETA1_SPACE = {"optimizer.beta1": [{"low": 0.5, "high": 0.99, "log": False}]}


# --------------------------------------------------------------------------- builders


def trial(
    number: int,
    value: float | None,
    state: str = "complete",
    best_step: int | None = None,
    max_steps: int | None = None,
    **params: Any,
) -> TrialRecord:
    """A trial; params use ``__`` for dots (``optimizer__lr`` is ``optimizer.lr``)."""
    return TrialRecord(
        number=number,
        state=state,
        value=value if state == "complete" else None,
        params={k.replace("__", "."): v for k, v in params.items()},
        best_step=best_step,
        max_steps=max_steps,
    )


def study(
    trials: list[TrialRecord],
    space: dict[str, list[dict[str, Any]]] | None = None,
    name: str = "s",
    point: dict[str, Any] | None = None,
    direction: str = "minimize",
) -> StudyRecord:
    """A study of ``val_error`` over ``space`` (the lr range unless told)."""
    return StudyRecord(
        name=name,
        point=point or {},
        direction=direction,
        metric="val_error",
        search_space=LR_SPACE if space is None else space,
        trials=trials,
    )


def log_grid(low: float, high: float, n: int) -> list[float]:
    """``n`` values evenly spaced in log10 between ``low`` and ``high``."""
    a, b = math.log10(low), math.log10(high)
    return [10 ** (a + (b - a) * i / (n - 1)) for i in range(n)]


def lr_study(optimum: float, n: int = 20, **kwargs: Any) -> StudyRecord:
    """Trials on a log grid of the lr range; error grows with the log-distance to ``optimum``."""
    lrs = log_grid(1e-5, 1e-1, n)
    trials = [
        trial(i, 0.1 + 0.05 * (math.log10(lr) - math.log10(optimum)) ** 2, optimizer__lr=lr)
        for i, lr in enumerate(lrs)
    ]
    return study(trials, **kwargs)


def values_study(values: list[float], name: str = "s", **kwargs: Any) -> StudyRecord:
    """Complete trials with the given objective values, each at its own configuration (a
    param outside the search space tells them apart: none is a repeat of another)."""
    return study([trial(i, v, config=i) for i, v in enumerate(values)], space={}, name=name,
                 **kwargs)  # fmt: skip


def only(findings: list[Finding], kind: str, severity: str | None = None) -> Finding:
    """The single finding of ``kind`` (and ``severity``), failing the test otherwise."""
    matching = [
        f for f in findings if f.kind == kind and (severity is None or f.severity == severity)
    ]
    assert len(matching) == 1, findings
    return matching[0]


# --------------------------------------------------------------------------- boundary


def test_boundary_fires_at_high_edge_of_log_lr_range() -> None:
    s = lr_study(optimum=1.0)  # the true optimum is a decade above the range
    finding = only(boundary(s, CFG), "boundary")
    assert finding.severity == "warn"
    assert finding.param == "optimizer.lr"
    assert finding.suggestion == {"high": pytest.approx(1.0)}
    assert "high edge" in finding.message and "0.1" in finding.message
    assert "across all 20 complete trials" in finding.message and "beyond" in finding.message


def test_boundary_silent_when_optimum_in_middle_of_log_range() -> None:
    # 1e-3 is the middle of [1e-5, 1e-1] in log scale (far from it in linear scale).
    assert boundary(lr_study(optimum=1e-3), CFG) == []


def test_boundary_measures_log_ranges_in_log_scale() -> None:
    # 1e-4 is 25% of the way in log10 but 0.09% in linear scale: interior, not an edge.
    assert boundary(lr_study(optimum=1e-4), CFG) == []


def test_boundary_fires_at_low_edge_of_linear_range() -> None:
    betas = [0.5 + 0.49 * i / 19 for i in range(20)]
    s = study([trial(i, 0.1 + b, optimizer__beta1=b) for i, b in enumerate(betas)], BETA1_SPACE)
    finding = only(boundary(s, CFG), "boundary")
    assert finding.param == "optimizer.beta1"
    assert finding.suggestion == {"low": pytest.approx(0.5 - 0.49 / 2)}
    assert "low edge" in finding.message and "linear" in finding.message


def test_boundary_silent_in_middle_of_linear_range() -> None:
    betas = [0.5 + 0.49 * i / 19 for i in range(20)]
    s = study(
        [trial(i, 0.1 + abs(b - 0.75), optimizer__beta1=b) for i, b in enumerate(betas)],
        BETA1_SPACE,
    )
    assert boundary(s, CFG) == []


def test_boundary_uses_the_alternative_whose_when_matches_the_point() -> None:
    space = {
        "optimizer.lr": [
            {"low": 1e-4, "high": 1e-2, "log": True, "when": {"optimizer.name": "adam"}},
            {"low": 1e-2, "high": 1.0, "log": True, "when": {"optimizer.name": "sgd"}},
        ]
    }
    lrs = log_grid(1e-2, 1.0, 12)
    trials = [trial(i, abs(math.log10(lr) + 1), optimizer__lr=lr) for i, lr in enumerate(lrs)]
    sgd = study(trials, space, point={"optimizer.name": "sgd"})
    assert active_spec(sgd, "optimizer.lr", {})["low"] == 1e-2
    # Best lr 0.1 is in the middle of the sgd range: no edge there.
    assert boundary(sgd, CFG) == []
    # The adam study's trials, in the adam range, improve toward its top (1e-2): an edge
    # there, though 1e-2 is the bottom of the sgd range.
    adam_lrs = log_grid(1e-4, 1e-2, 12)
    adam = [trial(i, abs(math.log10(lr) + 1), optimizer__lr=lr) for i, lr in enumerate(adam_lrs)]
    found = boundary(study(adam, space, point={"optimizer.name": "adam"}), CFG)
    assert [f.suggestion for f in found] == [{"high": pytest.approx(0.1)}]
    assert boundary(study(trials, space, point={"optimizer.name": "rmsprop"}), CFG) == []


# --------------------------------------------------------------------------- infeasible


def diverging_study(n_bad_above: int = 7) -> StudyRecord:
    """lr in [0.01, 1]: every trial above 0.5 diverged, the rest trained."""
    lrs = log_grid(0.01, 0.45, 13) + log_grid(0.55, 0.95, n_bad_above)
    trials = [
        trial(i, 0.2, optimizer__lr=lr)
        if lr < 0.5
        else trial(i, None, "infeasible", optimizer__lr=lr)
        for i, lr in enumerate(lrs)
    ]
    return study(trials, {"optimizer.lr": [{"low": 0.01, "high": 1.0, "log": True}]})


def test_infeasible_cluster_above_lr_is_described_and_avoided() -> None:
    finding = only(infeasible(diverging_study(), CFG), "infeasible")
    assert finding.severity == "warn"  # 7 of 20 = 35%, between 20% and 80%
    assert finding.param == "optimizer.lr"
    assert finding.suggestion["param"] == "optimizer.lr"
    assert finding.suggestion["high"] == pytest.approx(0.5, abs=0.06)
    assert "low" not in finding.suggestion
    assert "7 of 20" in finding.message and "all 7 trials with optimizer.lr >= 0.55" in (
        finding.message
    )


def test_infeasible_below_warn_fraction_is_info() -> None:
    finding = only(infeasible(diverging_study(n_bad_above=2), CFG), "infeasible")
    assert finding.severity == "info"  # 2 of 15
    assert finding.suggestion["high"] == pytest.approx(0.45)


def test_infeasible_scattered_failures_have_no_cluster() -> None:
    lrs = log_grid(1e-4, 1e-1, 20)
    trials = [
        trial(i, None, "infeasible", optimizer__lr=lr)
        if i % 5 == 2
        else trial(i, 0.2, optimizer__lr=lr)
        for i, lr in enumerate(lrs)
    ]
    s = study(trials)
    assert infeasible_cluster(s) is None
    finding = only(infeasible(s, CFG), "infeasible")
    assert finding.param is None and finding.suggestion == {}


def test_infeasible_most_trials_blocks_and_suspects_training_code() -> None:
    trials = [trial(i, 0.3, optimizer__lr=1e-3 * (i + 1)) for i in range(2)]
    trials += [trial(i, None, "infeasible", optimizer__lr=1e-4 * (i + 1)) for i in range(2, 20)]
    finding = only(infeasible(study(trials), CFG), "infeasible")
    assert finding.severity == "block"
    assert "18 of 20" in finding.message and "training code" in finding.message
    assert finding.suggestion["check_training_code"] is True


def test_infeasible_silent_without_infeasible_trials() -> None:
    s = lr_study(optimum=1e-3)
    s = study(s.trials + [trial(99, None, "pruned"), trial(100, None, "failed")])
    assert infeasible(s, CFG) == []


def test_infeasible_reasons_are_counted_in_words_that_fit() -> None:
    def with_reasons(*reasons: str) -> str:
        trials = [trial(0, 0.2, optimizer__lr=1e-3)] + [
            dataclasses.replace(trial(i + 1, None, "infeasible", optimizer__lr=1e-2),
                                infeasible_reason=r)
            for i, r in enumerate(reasons)
        ]  # fmt: skip
        return only(infeasible(study(trials), CFG), "infeasible").message

    assert "(all 'nan loss')" in with_reasons("nan loss", "nan loss")
    assert "('nan loss')" in with_reasons("nan loss")
    assert "(3 different reasons, e.g." in with_reasons("a", "b", "c")
    assert "(most often 'a', 2 of 3 trials)" in with_reasons("a", "a", "b")


# --------------------------------------------------------------------------- density


def test_density_warns_when_the_best_stands_alone_beyond_its_noise() -> None:
    # an error of 0.10 on 1,000 validation examples carries 0.0095 of sampling noise; the
    # next best is 0.2 away: the best region was hit once
    values = [0.10] + [0.3 + 0.03 * i for i in range(19)]
    s = dataclasses.replace(values_study(values), val_examples=1000)
    finding = only(density(s, CFG), "density")
    assert finding.severity == "warn"
    assert "stands alone" in finding.message and "1000 examples" in finding.message
    assert finding.suggestion == {"more_trials": 20}


def test_density_silent_when_neighbours_of_the_best_lie_within_its_noise() -> None:
    values = [0.100, 0.1002, 0.1005, 0.101, 0.1012] + [0.3 + 0.04 * i for i in range(15)]
    assert density(dataclasses.replace(values_study(values), val_examples=1000), CFG) == []


def test_density_warns_with_too_few_trials_per_tuned_param() -> None:
    space = {**LR_SPACE, **BETA1_SPACE}
    trials = [trial(i, 0.1 * i, optimizer__lr=1e-3, optimizer__beta1=0.9) for i in range(5)]
    finding = only(density(study(trials, space), CFG), "density")
    assert "only 5 complete trials over 2 tuned params, fewer than 7" in finding.message
    assert finding.suggestion == {"more_trials": 2}


def test_a_boundary_check_without_enough_trials_says_so() -> None:
    space = {**LR_SPACE, **BETA1_SPACE}
    trials = [trial(i, 0.1 * i, optimizer__lr=1e-3 * (i + 1), optimizer__beta1=0.5 + 0.04 * i)
              for i in range(5)]  # fmt: skip
    s = study(trials, space)
    assert boundary(s, CFG) == []
    (skipped,) = [f for f in skipped_checks([s], "train.steps") if "boundary" in f.message]
    assert "s (5 complete trials of 7)" in skipped.message


def test_density_says_nothing_it_cannot_measure() -> None:
    # no validation set size and no params to fit: the noise is unknown, so no guess
    assert density(values_study([0.10] + [0.3 + 0.03 * i for i in range(19)]), CFG) == []


# --------------------------------------------------------------------------- step budget


def step_study(
    name: str, best_steps: list[int], max_steps: int = 1000, every: int = 50
) -> StudyRecord:
    """Complete trials with the given best steps (better trials first), evaluated every
    ``every`` steps."""
    evals = {"eval_step": list(range(every, max_steps + 1, every))}
    trials = [
        dataclasses.replace(
            trial(i, 0.1 + 0.01 * i, best_step=b, max_steps=max_steps), curves=evals
        )
        for i, b in enumerate(best_steps)
    ]
    return study(trials, space={}, name=name)


def test_step_budget_best_step_always_in_first_10_percent_is_too_large() -> None:
    studies = [step_study("a", [50, 80, 100]), step_study("b", [60, 90, 70])]
    finding = only(step_budget(studies, CFG), "step_budget")
    assert finding.severity == "warn"
    assert finding.suggestion == {"train.steps": 400}  # latest best step 100 at a quarter
    assert "first 10%" in finding.message and "too large" in finding.message


def test_step_budget_best_step_always_in_last_25_percent_may_need_more() -> None:
    studies = [step_study("a", [900, 1000, 760]), step_study("b", [990, 800, 850])]
    finding = only(step_budget(studies, CFG), "step_budget")
    assert finding.severity == "info"
    assert finding.suggestion == {"train.steps": 2000}
    assert "last 25%" in finding.message


def test_step_budget_silent_when_best_step_in_middle() -> None:
    assert step_budget([step_study("a", [500, 400, 600])], CFG) == []


def test_step_budget_silent_when_not_always_early() -> None:
    # One top trial peaks late: "always in the first 10%" does not hold.
    assert step_budget([step_study("a", [50, 80]), step_study("b", [40, 900])], CFG) == []
    assert step_budget([step_study("a", [None])], CFG) == []  # type: ignore[list-item]


def test_step_budget_never_fires_from_a_single_evaluation() -> None:
    # evaluated once, at the end: the best step is always the last, which says nothing
    once = step_study("once", [1000, 1000, 1000], every=1000)
    assert step_budget([once], CFG) == []
    skipped = [f for f in skipped_checks([once], "train.steps") if "step-budget" in f.message]
    assert len(skipped) == 1 and "evaluated fewer than 3 times" in skipped[0].message
    assert step_budget([step_study("along", [990, 1000, 960])], CFG) != []


# --------------------------------------------------------------------------- comparison


def test_comparison_gap_larger_than_spread_only_reports_the_winner() -> None:
    a = values_study([0.100, 0.101, 0.102, 0.2], name="adam")
    b = values_study([0.120, 0.121, 0.122, 0.2], name="sgd")
    findings = comparison([b, a], CFG)
    info = only(findings, "comparison", "info")
    assert info.suggestion == {"best": {"adam": 0.1, "sgd": 0.12}, "winner": "adam"}
    assert "adam 0.1, sgd 0.12" in info.message and "winner adam" in info.message
    assert [f for f in findings if f.severity == "warn"] == []


def test_comparison_gap_within_the_measured_noise_is_tuning_noise() -> None:
    # each study tried its best config twice: the repeats' spreads (0.002/sqrt(2) and
    # 0.003/sqrt(2)) are the measured noise, never the spread of different configs' values
    def repeated(name: str, best: float, again: float) -> StudyRecord:
        trials = [trial(0, best, config=0), trial(1, again, config=0), trial(2, 0.2, config=1)]
        return study(trials, space={}, name=name)

    a, b = repeated("adam", 0.100, 0.102), repeated("sgd", 0.1005, 0.1035)
    (warn,) = [f for f in comparison([a, b], CFG) if "tuning noise" in f.message]
    assert warn.study == "adam"
    assert warn.suggestion["gap"] == pytest.approx(0.0005)
    spreads = (0.002 / math.sqrt(2), 0.003 / math.sqrt(2))
    assert warn.suggestion["spread"] == pytest.approx(math.hypot(*spreads), rel=1e-6)
    assert "within tuning noise" in warn.message and "spread of 1 repeated config" in warn.message


def test_comparison_judges_no_gap_when_no_noise_is_measured() -> None:
    # the top three of each study differ by 0.001 and 0.02, but they are different configs:
    # their spread is how the objective varies, not noise, so no gap warning is made of it
    a = values_study([0.100, 0.101, 0.102, 0.2], name="adam")
    b = values_study([0.1005, 0.121, 0.122, 0.2], name="sgd")
    assert [f for f in comparison([a, b], CFG) if f.severity == "warn"] == []


def test_comparison_gap_judged_against_the_sampling_noise_when_it_is_larger() -> None:
    # top trials agree to 0.001, but on 300 validation images an error of 0.1 carries 0.017
    a = dataclasses.replace(values_study([0.100, 0.101, 0.102], name="a"), val_examples=300)
    b = dataclasses.replace(values_study([0.130, 0.131, 0.132], name="b"), val_examples=300)

    def gap_warnings(*studies: StudyRecord) -> list[Finding]:
        return [f for f in comparison(list(studies), CFG) if "tuning noise" in f.message]

    assert len(gap_warnings(a, b)) == 1
    a, b = (dataclasses.replace(s, val_examples=100_000) for s in (a, b))
    assert gap_warnings(a, b) == []


def test_comparison_flags_thin_nuisance_tuning() -> None:
    thin = values_study([0.09, 0.3], name="thin")
    edge = lr_study(optimum=1.0, name="edge")
    fair = lr_study(optimum=1e-3, name="fair")
    warns = [f for f in comparison([thin, edge, fair], CFG) if f.severity == "warn"]
    flagged = {f.study: f for f in warns if "too thin" in f.message}
    assert set(flagged) == {"thin", "edge"}
    assert "only 2 complete trials" in flagged["thin"].message
    assert flagged["edge"].suggestion["boundary_params"] == ["optimizer.lr"]


def test_comparison_single_study_is_just_the_info_line() -> None:
    findings = comparison([values_study([0.09, 0.3], name="only")], CFG)
    assert [(f.kind, f.severity) for f in findings] == [("comparison", "info")]
    assert comparison([], CFG) == []


# --------------------------------------------------------------------------- importance


def importance_study(n: int, seed: int = 0) -> StudyRecord:
    """The error depends on lr only; weight decay is pure noise."""
    rng = random.Random(seed)
    space = {
        "optimizer.lr": [{"low": 1e-4, "high": 1.0, "log": True}],
        "optimizer.weight_decay": [{"low": 0.0, "high": 1.0, "log": False}],
    }
    trials = []
    for i in range(n):
        lr, wd = 10 ** rng.uniform(-4, 0), rng.uniform(0.0, 1.0)
        error = 0.1 + (math.log10(lr) + 2) ** 2 + 0.01 * rng.random()
        trials.append(trial(i, error, optimizer__lr=lr, optimizer__weight_decay=wd))
    return study(trials, space)


def test_importance_flags_the_noise_param_not_the_driving_one() -> None:
    s = importance_study(40)
    finding = only(importance(s, CFG), "importance")
    assert finding.param == "optimizer.weight_decay"
    assert finding.severity == "info"
    best_wd = s.ranked()[0].params["optimizer.weight_decay"]
    assert finding.suggestion == {"fixed": best_wd}


def test_importance_silent_with_too_few_trials_or_one_param() -> None:
    assert importance(importance_study(6), CFG) == []
    lr_only = lr_study(optimum=1e-3)
    assert importance(lr_only, CFG) == []


# --------------------------------------------------------------------------- all checks


def test_run_study_checks_runs_every_check_most_severe_first() -> None:
    edge = lr_study(optimum=1.0, name="edge")
    broken = study(
        [trial(0, 0.5, optimizer__lr=1e-3)]
        + [trial(i, None, "infeasible", optimizer__lr=1e-2) for i in range(1, 10)],
        name="broken",
    )
    findings = run_study_checks([edge, broken], CFG)
    kinds = {f.kind for f in findings}
    assert {"boundary", "infeasible", "density", "comparison"} <= kinds
    assert findings[0].severity == "block"
    assert [f.severity for f in findings] == sorted(
        (f.severity for f in findings), key=("block", "warn", "info").index
    )


def test_boundary_suggestions_stay_inside_the_schema():
    """A momentum range cannot be widened past 1: the suggestion stops just below the limit."""
    from orchestrator.analysis.search_space import widened as _widened

    assert _widened({"low": 0.5, "high": 0.98}, "high", "optimizer.momentum") == 0.999
    assert _widened({"low": 0.0, "high": 0.4}, "low", "model.dropout") == 0.0  # at the limit
    assert _widened({"low": 0.01, "high": 3.0, "log": True}, "high", "optimizer.lr") == 30.0


def test_an_own_range_from_zero_is_never_widened_below_it():
    """An own key has no schema limits: a dropout from 0 keeps its sign, one above 0 stops
    at 0; a range that already spans negatives widens as it is."""
    from orchestrator.analysis.search_space import widened as _widened

    assert _widened({"low": 0.0, "high": 0.6}, "low", "model.dropout_1") == 0.0
    assert _widened({"low": 0.2, "high": 0.6}, "low", "net.drop") == 0.0
    assert _widened({"low": -1.0, "high": 1.0}, "low", "net.shift") == -2.0
    assert _widened({"low": 0, "high": 8, "step": 2}, "low", "net.blocks") == 0
