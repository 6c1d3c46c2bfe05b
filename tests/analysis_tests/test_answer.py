"""The round's answer: ranking with each gap judged against the noise, what undermines it,
the verdict and the next step, from plain records (no store, no training)."""

from __future__ import annotations

from orchestrator.analysis.answer import format_answer, round_answer
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.store.decision_record import DecisionRecord
from orchestrator.store.findings import Finding


def depth_study(depth: int, values: list[float], examples: int = 1000) -> StudyRecord:
    trials = [TrialRecord(i, "complete", v, {}) for i, v in enumerate(values)]
    return StudyRecord(f"r/model.depth={depth}", {"model.depth": depth}, "minimize",
                       "val_error", {}, trials, val_examples=examples)  # fmt: skip


def test_a_gap_beyond_the_noise_is_clear_and_one_within_it_is_not():
    # errors near 0.2 and 0.3 on 1,000 images carry 0.013-0.015 of sampling noise each,
    # more than the spread of their top trials (0.007)
    studies = [depth_study(1, [0.30, 0.31]), depth_study(2, [0.20, 0.21]), depth_study(3, [0.195])]
    answer = round_answer("Does depth help?", studies, [])
    assert [r.study for r in answer.ranking] == [
        "r/model.depth=3", "r/model.depth=2", "r/model.depth=1"
    ]  # fmt: skip
    assert [r.gap_to_next for r in answer.ranking] == ["within noise", "clear", ""]
    assert "not established" in answer.trust[0]
    text = format_answer(answer)
    assert text.startswith("answer: Does depth help?")
    assert (
        "1. r/model.depth=3: 0.195 +- 0.0125 (sampling noise on 1000 examples)   [within noise "
        "to the next]" in text
    )


def test_warnings_on_the_top_studies_undermine_the_answer_and_others_do_not():
    studies = [depth_study(1, [0.1]), depth_study(2, [0.3]), depth_study(3, [0.5])]
    findings = [
        Finding("boundary", "warn", "m", "r/model.depth=1", "optimizer.lr", {"high": 30.0}),
        Finding("density", "warn", "m", "r/model.depth=3", None, {"more_trials": 5}),
        Finding("infeasible", "block", "m", "r/model.depth=2", None, {}),
        Finding("importance", "info", "m", "r/model.depth=1", "optimizer.momentum", {}),
    ]
    answer = round_answer("q", studies, findings)
    assert answer.undermining == ["1 block infeasible", "1 warn boundary (optimizer.lr)"]


def test_the_verdict_and_the_next_step_are_stated():
    decision = DecisionRecord.from_dict(
        {"round_name": "r", "verdict": "promoted", "effect": -0.02, "ci_low": -0.03,
         "ci_high": -0.01, "reason": "better on every seed"}
    )  # fmt: skip
    changes = ["optimizer.lr: high 3.0 -> 30.0 (boundary)"]
    answer = round_answer("q", [depth_study(1, [0.1])], [], decision, changes, "r/next.yaml")
    text = format_answer(answer)
    assert (
        "promotion: PROMOTED (effect -0.02, interval [-0.03, -0.01]): better on every seed" in text
    )
    assert "next: the next-round draft r/next.yaml" in text
    assert "- optimizer.lr: high 3.0 -> 30.0 (boundary)" in text
    undecided = format_answer(round_answer("q", [depth_study(1, [0.1])], []))
    assert "promotion: not decided yet" in undecided


def test_only_thin_tuning_findings_count_as_thin():
    studies = [depth_study(1, [0.10, 0.11]), depth_study(2, [0.10, 0.11])]
    gap = Finding("comparison", "warn", "the gap is within tuning noise", "r/model.depth=1",
                  None, {"gap": 0.0, "spread": 0.01})  # fmt: skip
    thin = Finding("comparison", "warn", "looks too thin", "r/model.depth=2", None,
                   {"complete_trials": 2, "boundary_params": []})  # fmt: skip
    assert not any("looks thin" in t for t in round_answer("q", studies, [gap]).trust)
    assert "tuning looks thin in r/model.depth=2" in round_answer("q", studies, [thin]).trust[-1]
