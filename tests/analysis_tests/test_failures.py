"""The ``failed`` finding on hand-built studies: its words, what it counts, the draft."""

from __future__ import annotations

from orchestrator.analysis.advice import one_advice_per_param
from orchestrator.analysis.answer import format_answer, round_answer
from orchestrator.analysis.failures import error_key, failed
from orchestrator.analysis.model import StudyRecord, TrialRecord
from orchestrator.analysis.next_round import draft_next_round
from orchestrator.config.sections import AnalysisConfig
from orchestrator.store.findings import Finding

CFG = AnalysisConfig()
SPACE = {
    "lr": [{"low": 0.001, "high": 1.0, "log": True}],
    "act": [{"choices": ["relu", "tanh", "swish"]}],
}


def study(rows: list[tuple[str, float, str | None]], name: str = "r1") -> StudyRecord:
    trials = [
        TrialRecord(i, "failed" if err else "complete", None if err else 0.1 + lr,
                    {"act": act, "lr": lr}, error=err)
        for i, (act, lr, err) in enumerate(rows)
    ]  # fmt: skip
    return StudyRecord(name, {}, "minimize", "val_loss", SPACE, trials)


SWISH = "KeyError: 'swish'"
ROWS = [("relu", 0.01, None), ("swish", 0.02, SWISH), ("tanh", 0.03, None),
        ("swish", 0.05, SWISH), ("relu", 0.1, None), ("swish", 0.2, SWISH),
        ("tanh", 0.3, None), ("relu", 0.5, None)]  # fmt: skip


def test_a_value_that_always_fails_is_named_with_its_error_and_dropped():
    (f,) = failed(study(ROWS), CFG)
    assert (f.kind, f.severity, f.study, f.param) == ("failed", "warn", "r1", "act")
    assert f.message == (
        "3 of 8 trials (38%) failed with KeyError: 'swish' (trials 1, 3, 5); all 3 trials with"
        " act=swish failed this way and its other values ran, so drop swish from act's choices."
    )
    assert f.suggestion == {"param": "act", "drop": ["swish"]}


def test_failures_at_a_range_end_trim_it_and_nearly_all_failing_blocks():
    oom = "RuntimeError: CUDA out of memory.\nTraceback (most recent call last): ..."
    rows = [("relu", lr, oom if lr > 0.25 else None) for lr in (0.01, 0.1, 0.2, 0.3, 0.6, 0.9)]
    (f,) = failed(study(rows), CFG)
    assert f.message == (
        "3 of 6 trials (50%) failed with RuntimeError: CUDA out of memory. (trials 3, 4, 5); all"
        " 3 trials with lr >= 0.3 failed this way, so the range should stop at 0.2, the highest"
        " value that ran."
    )
    assert f.suggestion == {"param": "lr", "high": 0.2} and f.severity == "warn"
    broken = failed(study([("relu", 0.1 * i, "ValueError: bad shape") for i in range(1, 6)]), CFG)
    assert broken[0].severity == "block" and broken[0].suggestion == {"check_training_code": True}
    assert broken[0].param is None  # every value fails: the code, not a value


def test_worker_faults_are_not_the_trainers_and_errors_group_by_their_first_line():
    faults = [
        "interrupted by SIGINT; queued again",
        "interrupted by SIGINT; retried once",  # as stores of earlier versions wrote it
        "worker 0 (pid 1 on h) died while running this trial (killed?); retried once with the"
        " same parameters",
        "storage error: OperationalError: database is locked",
    ]  # fmt: skip
    assert failed(study([("relu", 0.1, None)] + [("tanh", 0.2, e) for e in faults]), CFG) == []
    assert error_key("ValueError: a\n  b") == "ValueError: a"
    two = failed(study([("relu", 0.1, "ValueError: a\nx"), ("relu", 0.2, "ValueError: a\ny"),
                        ("tanh", 0.3, "TypeError: b"), ("tanh", 0.4, None)]), CFG)  # fmt: skip
    assert (
        [f.message.split(" (")[0] for f in two] == ["2 of 4 trials", "1 of 4 trials"]
        and "ValueError: a" in two[0].message
        and "TypeError: b" in two[1].message
    )


def test_the_draft_drops_the_failing_value_and_says_why_and_importance_keeps_it_tuned():
    (f,) = failed(study(ROWS), CFG)
    negligible = Finding(
        "importance", "info", "act is negligible.", "r1", "act", {"fixed": "tanh"}
    )
    findings = one_advice_per_param([f, negligible])
    assert (
        findings[1].suggestion == {}
        and "decide which trials diverge or fail" in findings[1].message
    )
    round_cfg = {"name": "r1", "nuisance": {"act": {"choices": ["relu", "tanh", "swish"]}},
                 "budget": {"seed": 0}}  # fmt: skip
    draft, reasons = draft_next_round(round_cfg, findings, {"r1": {}})
    assert draft["nuisance"]["act"] == {"choices": ["relu", "tanh"]}
    assert (
        f"act: choices ['relu', 'tanh', 'swish'] -> ['relu', 'tanh'] (failed: {f.message})"
        in reasons
    )
    two_left = {"name": "r1", "nuisance": {"act": {"choices": ["relu", "swish"]}}, "budget": {}}
    draft, reasons = draft_next_round(two_left, [f], {"r1": {}})
    assert "act" not in draft["nuisance"] and draft["fixed"]["act"] == "relu"


def test_the_answer_shows_failures_on_the_winner_only():
    winner = study([("relu", 0.01, None), ("tanh", 0.02, None), ("swish", 0.1, SWISH)], "r/x=1")
    loser = study([("relu", 0.5, None), ("tanh", 0.6, None)], "r/x=2")
    findings = failed(winner, CFG) + [Finding("failed", "warn", "other.", "r/x=2")]
    text = format_answer(round_answer("q", [winner, loser], findings))
    assert "  failed: 1 of 3 trials (33%) failed with KeyError: 'swish' (trial 2)." in text
    assert "other." not in text
