"""Promotion on evidence: the rule's error rates, blocking, the ledger, crash repair."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml

from orchestrator.config.experiment import Experiment, builtin_experiment
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.config.sections import StorageConfig
from orchestrator.exceptions import ConfigError
from orchestrator.promotion import promote as promotion_module
from orchestrator.promotion.decision import decide
from orchestrator.promotion.lineage import format_history
from orchestrator.promotion.promote import PromotionJob, promote
from orchestrator.promotion.reruns import rerun_values
from orchestrator.rounds.promotion_config import PromotionConfig
from orchestrator.rounds.validate import parse_round
from orchestrator.store.incumbent import read_incumbent
from orchestrator.store.ledger import Ledger
from orchestrator.store.storage import create_storage
from orchestrator.trainers.cache import TrainerCache
from tests.support import trainers
from tests.support.rounds import run_in_process

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_identical_values_are_rejected_and_a_clear_gain_is_promoted():
    cfg = PromotionConfig(seeds=3)
    same = decide([0.2, 0.21, 0.19], [0.2, 0.21, 0.19], maximize=False, cfg=cfg)
    assert same.verdict == "rejected" and same.effect == 0
    better = decide([0.10, 0.11, 0.09], [0.20, 0.22, 0.19], maximize=False, cfg=cfg)
    assert better.verdict == "promoted" and better.effect == pytest.approx(0.1033, abs=1e-3)
    assert better.ci_low < better.effect < better.ci_high
    assert "p=" in better.reason and "90% CI" in better.reason
    assert better.ci_low > 0 and same.ci_low <= 0  # the interval agrees with the test


def test_direction_min_improvement_and_the_se_rule():
    cfg = PromotionConfig(seeds=3, min_improvement=0.05)
    small = decide([0.80, 0.81, 0.82], [0.78, 0.79, 0.80], maximize=True, cfg=cfg)
    assert small.verdict == "rejected" and "min_improvement" in small.reason  # +0.02 < 0.05
    se_rule = PromotionConfig(seeds=3, rule="se_multiple", se_multiple=2.0)
    noisy = decide([0.1, 0.3, 0.15], [0.2, 0.2, 0.2], maximize=False, cfg=se_rule)
    assert noisy.verdict == "rejected" and "within seed noise" in noisy.reason


def test_a_block_finding_stops_promotion_and_force_overrides_it():
    cand, inc = [0.10, 0.11, 0.09], [0.20, 0.22, 0.19]
    blocked = decide(cand, inc, maximize=False, cfg=PromotionConfig(), blocking=["bad"])
    assert blocked.verdict == "blocked" and "bad" in blocked.reason
    forced = decide(cand, inc, maximize=False, cfg=PromotionConfig(force=True), blocking=["bad"])
    assert forced.verdict == "promoted"
    warned = decide(cand, inc, maximize=False, cfg=PromotionConfig(), warnings=["thin"])
    assert warned.verdict == "promoted" and "warnings: thin" in warned.reason


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"seeds": 1}, "round.promotion.seeds"),
        ({"rule": "bayes"}, "round.promotion.rule"),
        ({"alpha": 0.7}, "round.promotion.alpha"),
        ({"seed": 3}, "round.promotion.seed"),
    ],
)
def test_promotion_settings_are_validated_with_the_round(raw, key):
    rnd = RoundConfig(name="r", scientific={"model.depth": [1, 2]}, promotion=raw)
    with pytest.raises(ConfigError) as info:
        parse_round(rnd, builtin_experiment())
    assert info.value.key == key


def repeated_decisions(gap: float, repeats: int = 40) -> int:
    """Promotions among ``repeats`` paired decisions of a candidate ``gap`` better than the
    incumbent (in noise standard deviations), with fresh seeds each time."""
    incumbent = builtin_experiment(trainer="tests.support.trainers.noisy")
    # an equally good but different config, or one truly better by ``gap`` noise sds
    candidate = incumbent.with_values(
        {"model.init": "xavier", "data.label_noise": 0.05 - gap * trainers.NOISE}
    )
    promoted, cache = 0, TrainerCache()
    for rep in range(repeats):
        cfg = PromotionConfig(seeds=[rep * 100 + s for s in range(1, 6)])
        study = optuna.create_study()
        inc = rerun_values(study, "incumbent", incumbent, cfg.seed_list, {}, cache)
        cand = rerun_values(study, "candidate", candidate, cfg.seed_list, {}, cache)
        promoted += decide(cand, inc, maximize=False, cfg=cfg).verdict == "promoted"
    return promoted


def test_a_trainer_that_cannot_be_imported_leaves_no_rerun_trial_behind():
    study = optuna.create_study()
    with pytest.raises(ConfigError) as info:
        rerun_values(
            study,
            "incumbent",
            builtin_experiment(trainer="no.such.fn"),
            [1, 2],
            {},
            TrainerCache(),
        )
    assert info.value.key == "trainer._target_" and study.trials == []


def test_an_equally_good_candidate_is_promoted_in_at_most_5_percent_of_40_decisions():
    assert repeated_decisions(gap=0.0) <= 2


def test_a_candidate_better_by_3_noise_sds_is_promoted_in_at_least_80_percent():
    assert repeated_decisions(gap=3.0) >= 32


def small_round(name: str = "round_1", **promotion) -> RoundConfig:
    return RoundConfig(
        name=name,
        goal="depth?",
        scientific={"model.depth": [1, 2]},
        nuisance={"optimizer.lr": {"low": 0.01, "high": 1.0, "log": True}},
        budget=BudgetConfig(trials_per_study=4),
        promotion={"seeds": 3, **promotion},
    )


def worse_start() -> Experiment:
    """A start config the round can beat: the analytic optimum is lr 0.1, depth 1."""
    start = builtin_experiment(trainer="tests.support.trainers.analytic")
    return start.with_values({"optimizer.lr": 0.9})


def setup_round(tmp_path: Path, raw: RoundConfig, start: Experiment | None = None):
    start = start or worse_start()
    url = f"sqlite:///{tmp_path}/tuning.db"
    storage = create_storage(StorageConfig(url=url))
    rnd = parse_round(raw, start)
    run_in_process(rnd, start, storage, "tests.support.trainers.analytic", tmp_path / "artifacts")
    return rnd, start, storage, Ledger(url)


def do_promote(tmp_path, rnd, start, storage, ledger, incumbent=None):
    job = PromotionJob(storage, ledger, tmp_path)
    return promote(rnd, start, incumbent or start, job)


def test_promotion_writes_the_incumbent_history_and_one_ledger_row(tmp_path):
    rnd, start, storage, ledger = setup_round(tmp_path, small_round())
    row = do_promote(tmp_path, rnd, start, storage, ledger)
    assert row.verdict == "promoted" and row.state == "final"
    # the candidate is the round's best feasible trial: depth 1 and lr nearest 0.1
    best = min(
        (
            t
            for n in ("round_1/model.depth=1", "round_1/model.depth=2")
            for t in optuna.load_study(study_name=n, storage=storage).trials
        ),
        key=lambda t: t.value,
    )
    assert (row.candidate_study, row.candidate_trial) == ("round_1/model.depth=1", best.number)
    incumbent = read_incumbent(tmp_path)
    assert incumbent.promoted_by == "round_1" and incumbent.tree["model"]["depth"] == 1
    assert incumbent.tree["optimizer"]["lr"] == best.params["optimizer.lr"]
    history = yaml.safe_load((tmp_path / "history" / "round_1.yaml").read_text())
    assert history["experiment"]["model"]["depth"] == 1
    reruns = optuna.load_study(study_name="round_1/promotion", storage=storage).trials
    assert sorted((t.user_attrs["role"], t.user_attrs["seed"]) for t in reruns) == [
        ("candidate", 1),
        ("candidate", 2),
        ("candidate", 3),
        ("incumbent", 1),
        ("incumbent", 2),
        ("incumbent", 3),
    ]
    again = do_promote(tmp_path, rnd, start, storage, ledger)  # decided: nothing new
    assert again.id == row.id and len(ledger.decisions()) == 1
    assert "-> round_1: promoted" in format_history(ledger.decisions())


def test_a_block_finding_stops_promotion_of_a_real_round(tmp_path):
    rnd, start, storage, ledger = setup_round(tmp_path, small_round())
    findings = [{"kind": "boundary", "severity": "block", "message": "lr optimum at the edge"}]
    (tmp_path / "round_1").mkdir(exist_ok=True)
    (tmp_path / "round_1" / "findings.json").write_text(json.dumps(findings))
    row = do_promote(tmp_path, rnd, start, storage, ledger)
    assert row.verdict == "blocked" and "lr optimum at the edge" in row.reason
    assert read_incumbent(tmp_path) is None


def test_a_crash_between_the_file_and_the_ledger_commit_is_repaired_by_rerunning(
    tmp_path, monkeypatch
):
    rnd, start, storage, ledger = setup_round(tmp_path, small_round())

    def crash() -> None:
        raise KeyboardInterrupt("killed after writing the incumbent")

    monkeypatch.setattr(promotion_module, "_after_incumbent_written", crash)
    with pytest.raises(KeyboardInterrupt):
        do_promote(tmp_path, rnd, start, storage, ledger)
    (pending,) = ledger.decisions()
    assert pending.state == "pending" and read_incumbent(tmp_path).promoted_by == "round_1"
    monkeypatch.undo()
    reruns_before = len(optuna.load_study(study_name="round_1/promotion", storage=storage).trials)
    row = do_promote(tmp_path, rnd, start, storage, ledger)
    assert row.state == "final" and row.id == pending.id and len(ledger.decisions()) == 1
    assert read_incumbent(tmp_path).tree["model"]["depth"] == 1
    after = len(optuna.load_study(study_name="round_1/promotion", storage=storage).trials)
    assert after == reruns_before  # the evidence was not measured again


def test_incumbent_reruns_already_in_the_ledger_are_not_trained_again(tmp_path):
    rnd, start, storage, ledger = setup_round(tmp_path, small_round())
    do_promote(tmp_path, rnd, start, storage, ledger)
    raw2 = small_round("round_2")
    rnd2 = parse_round(raw2, start)
    run_in_process(rnd2, start, storage, "tests.support.trainers.analytic", tmp_path / "artifacts")
    old = worse_start()  # compare round 2's candidate with the same incumbent as round 1
    do_promote(tmp_path, rnd2, start, storage, ledger, incumbent=old)
    roles = [
        t.user_attrs["role"]
        for t in optuna.load_study(study_name="round_2/promotion", storage=storage).trials
    ]
    assert roles == ["candidate"] * 3  # the incumbent's three seeds came from the ledger


def test_warn_findings_are_summarised_in_the_decision(tmp_path):
    from orchestrator.promotion.promote import blocking_findings

    findings = [
        {"kind": "boundary", "severity": "warn", "message": "a"},
        {"kind": "boundary", "severity": "warn", "message": "b"},
        {"kind": "density", "severity": "warn", "message": "c"},
        {"kind": "comparison", "severity": "info", "message": "d"},
        {"kind": "infeasible", "severity": "block", "message": "90% diverged"},
    ]
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "findings.json").write_text(json.dumps(findings))
    block, warn = blocking_findings(tmp_path, "r")
    assert block == ["90% diverged"]
    assert warn == [f"3 warn findings (boundary x2, density x1) in {tmp_path}/r/findings.json"]
    assert blocking_findings(tmp_path, "never") == ([], [])


def test_atomically_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from orchestrator.store.files import atomic_write

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "f.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.json").stat().st_mode) == 0o644
