"""The next-round draft applies the findings' suggestions and loads as a valid round."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from orchestrator.analysis.next_round import draft_next_round, render
from orchestrator.config.experiment import builtin_experiment
from orchestrator.config.round import RoundConfig, round_from_dict
from orchestrator.exceptions import ConfigError
from orchestrator.rounds.validate import parse_round
from orchestrator.store.findings import Finding


def base_round() -> dict:
    raw = RoundConfig(
        name="round_1",
        goal="depth?",
        scientific={"model.depth": [1, 2]},
        nuisance={
            "optimizer.lr": {"low": 0.01, "high": 3.0, "log": True},
            "optimizer.momentum": {"low": 0.5, "high": 0.98},
        },
        fixed={"train.steps": 300},
    )
    return dataclasses.asdict(raw)


def finding(kind: str, param: str | None = None, study: str = "s1", **suggestion) -> Finding:
    return Finding(kind, "warn", f"planted {kind}", study, param, suggestion)


def test_suggestions_are_applied_with_a_reason_each():
    findings = [
        finding("boundary", "optimizer.lr", high=30.0),
        finding("boundary", "optimizer.lr", study="s2", high=10.0),
        finding("boundary", "optimizer.momentum", high=0.999),
        Finding(
            "infeasible",
            "warn",
            "all 4 trials with momentum >= 0.9 diverged",
            "s1",
            "optimizer.momentum",
            {"param": "optimizer.momentum", "high": 0.9},
        ),
        finding("importance", "optimizer.momentum", fixed=0.85),
        finding("step_budget", **{"train.steps": 600}),
    ]
    draft, reasons = draft_next_round(base_round(), findings, n_studies=2)
    assert draft["name"] == "round_1_next" and draft["start_from"] == "incumbent"
    assert draft["nuisance"]["optimizer.lr"]["high"] == 30.0  # the widest suggestion wins
    assert draft["fixed"]["train.steps"] == 600
    # momentum: widened to 0.999, then the infeasible region above 0.9 trims it back;
    # negligible in only one of two studies, so it stays a nuisance param
    assert draft["nuisance"]["optimizer.momentum"]["high"] == 0.9
    assert len(reasons) == 4 and any("infeasible" in r for r in reasons)
    parse_round(round_from_dict(draft), builtin_experiment())  # loads and validates as a round


def test_a_param_negligible_in_every_study_becomes_fixed():
    findings = [
        finding("importance", "optimizer.momentum", study=s, fixed=0.85) for s in ("s1", "s2")
    ]
    draft, reasons = draft_next_round(base_round(), findings, n_studies=2)
    assert "optimizer.momentum" not in draft["nuisance"]
    assert draft["fixed"]["optimizer.momentum"] == 0.85
    assert reasons == [
        "optimizer.momentum: nuisance -> fixed at 0.85 (importance: negligible in all 2 studies)"
    ]


def test_no_findings_gives_the_same_round_renamed_and_the_yaml_says_why():
    draft, reasons = draft_next_round(base_round(), [], n_studies=2)
    text = render(draft, reasons, "round_1's findings")
    assert text.startswith("# Next-round draft, made from round_1's findings")
    assert "no finding suggested a change" in text
    loaded = yaml.safe_load(text)
    assert loaded["nuisance"] == base_round()["nuisance"] and loaded["name"] == "round_1_next"
    parse_round(round_from_dict(loaded), builtin_experiment())


def test_round_from_dict_names_unknown_keys():
    with pytest.raises(ConfigError, match="unknown keys \\['goals'\\]"):
        round_from_dict({**base_round(), "goals": "x"})


def test_a_step_budget_on_a_length_key_the_round_varies_leaves_it_alone():
    raw = base_round()
    raw["scientific"] = {"train.steps": [100, 300]}
    raw["fixed"] = {}
    draft, reasons = draft_next_round(raw, [finding("step_budget", **{"train.steps": 600})], 2)
    assert "train.steps" not in draft.get("fixed", {})
    assert reasons == ["train.steps: left as it is (scientific here; step_budget suggests 600)"]
    parse_round(round_from_dict(draft), builtin_experiment())  # still a valid round


def test_a_pruner_warned_about_in_an_exploration_round_is_off_in_the_draft():
    raw = base_round()
    raw["budget"]["pruner"] = "hyperband"
    warned = Finding("pruning", "warn", "exploration", "s1", None, {})
    draft, reasons = draft_next_round(raw, [warned], 2)
    assert draft["budget"]["pruner"] == "none"
    assert reasons == ["budget.pruner: hyperband -> none (pruning: exploration)"]
    info = Finding("pruning", "info", "pruned 3", "s1", None, {})
    assert draft_next_round(raw, [info], 2)[0]["budget"]["pruner"] == "hyperband"
