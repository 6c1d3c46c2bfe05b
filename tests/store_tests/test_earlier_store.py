"""A workspace written before the package layout changed is read, resumed and promoted.

The fixture (``fixtures/store_fa90331/``, see its README) was written by main at fa90331:
round_1 worked, analysed and promoted; round_2 worked only, with one infeasible trial per
study. Everything a user relies on must still work on it with today's code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from orchestrator.analysis.load import load_round
from orchestrator.config.experiment import builtin_experiment
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.rounds.validate import parse_round
from orchestrator.store.findings import read_findings
from orchestrator.store.incumbent import read_incumbent
from orchestrator.store.ledger import Ledger
from orchestrator.store.record import legacy_config_hash
from tests.support.cli import run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "store_fa90331"
ANALYTIC_TARGET = "tests.support.trainers.analytic"
ANALYTIC = f"trainer._target_={ANALYTIC_TARGET}"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A private copy of the earlier workspace (the fixture itself is never written)."""
    copy = tmp_path / "studies"
    shutil.copytree(FIXTURE, copy)
    return copy


def cli(store: Path, *overrides: str):
    return run_cli(store, f"storage.url=sqlite:///{store}/tuning.db", *overrides)


def trials(store: Path, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=f"sqlite:///{store}/tuning.db").trials


def test_the_ledger_incumbent_and_findings_of_the_earlier_version_are_read(store):
    done = cli(store, "stage=history")
    assert done.returncode == 0, done.stderr
    assert "-> round_1: promoted (round_1/model.depth=1 trial 0" in done.stdout
    incumbent = read_incumbent(store)
    assert incumbent is not None and incumbent.promoted_by == "round_1"
    with Ledger(f"sqlite:///{store}/tuning.db") as ledger:
        (decision,) = ledger.decisions()
        # the earlier version hashed the values alone; that digest is still recognised
        assert decision.state == "final" and decision.candidate_hash == legacy_config_hash(
            incumbent.tree
        )
        assert incumbent.trainer is None  # written before the trainer was recorded
    findings = read_findings(store / "round_1" / "findings.json")
    raw = json.loads((store / "round_1" / "findings.json").read_text())
    assert findings is not None and [f.to_dict() for f in findings] == raw


def test_the_stored_trials_load_as_before_infeasible_ones_marked(store):
    storage = optuna.storages.RDBStorage(f"sqlite:///{store}/tuning.db")
    start = read_incumbent(store).experiment(builtin_experiment(trainer=ANALYTIC_TARGET))
    raw = yaml.safe_load((FIXTURE / "round_2" / "round.yaml").read_text())
    rnd = parse_round(
        RoundConfig(
            name="round_2",
            scientific=raw["scientific"],
            nuisance={
                "optimizer.lr": {"low": 0.02, "high": 2.0, "log": True},
                "model.dropout": {"low": 0.05, "high": 0.5, "when": {"model.use_dropout": True}},
            },
            fixed=raw["fixed"],
            budget=BudgetConfig(trials_per_study=4),
        ),
        start,
    )
    studies = load_round(rnd, storage, store / "artifacts")
    for study in studies:
        states = [t.state for t in study.trials]
        assert states.count("infeasible") == 1 and states.count("complete") == 3
        (bad,) = [t for t in study.trials if t.state == "infeasible"]
        assert bad.value is None and bad.infeasible_reason and bad.params["optimizer.lr"] > 1
        assert all(t.curves and t.best_step == 300 for t in study.trials if t.state == "complete")
        assert study.metric == "val_error" and study.maximize is False
    storage.engine.dispose()


@pytest.mark.slow
def test_an_earlier_round_is_resumed_analysed_and_promoted(store):
    before = {
        s: [(t.number, t.params, t.state) for t in trials(store, s)]
        for s in ("round_2/model.use_dropout=false", "round_2/model.use_dropout=true")
    }
    done = cli(store, "round=round_2", ANALYTIC, "round.budget.trials_per_study=6")
    assert done.returncode == 0, done.stderr
    assert "as when this round started" in done.stdout  # same start config: resumed
    for name, old in before.items():
        now = trials(store, name)
        assert [(t.number, t.params, t.state) for t in now[:4]] == old  # nothing re-run
        assert len(now) == 6 and all(t.state == TrialState.COMPLETE for t in now)
    assert "promotion of round_2:" in done.stdout
    study = optuna.load_study(
        study_name="round_2/model.use_dropout=true", storage=f"sqlite:///{store}/tuning.db"
    )
    assert study.user_attrs["identity"]["trainer"] == ANALYTIC_TARGET  # completed, adopted
    assert (store / "round_2" / "findings.json").exists()
    assert (store / "round_2" / "report.html").exists()
    with Ledger(f"sqlite:///{store}/tuning.db") as ledger:
        assert [d.round_name for d in ledger.decisions()] == ["round_1", "round_2"]
        assert ledger.decision("round_2").state == "final"


def test_an_earlier_round_resumed_changed_is_refused_from_what_it_recorded(store):
    """No stored identity: the roles, sampler and seed its studies recorded are compared."""
    before = (store / "tuning.db").read_bytes()
    done = cli(store, "round=round_2", ANALYTIC, "round.budget.seed=3", "stage=work")
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: round.budget.seed: round round_2 was started as another round "
        "(round.budget.seed: 0 -> 3); its studies keep what they were started with."
    )
    assert (store / "tuning.db").read_bytes() == before
