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


POINTS = {"s1": {"model.depth": 1}, "s2": {"model.depth": 2}}


def winner(name: str) -> Finding:
    return Finding("comparison", "info", "isolation view", None, None, {"winner": name})


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
    draft, reasons = draft_next_round(base_round(), findings, POINTS)
    assert draft["name"] == "round_1_next" and draft["start_from"] == "incumbent"
    assert draft["nuisance"]["optimizer.lr"]["high"] == 30.0  # the widest suggestion wins
    assert draft["fixed"]["train.steps"] == 600
    # momentum: widened to 0.999, then the infeasible region above 0.9 trims it back;
    # negligible in only one of two studies, so it stays a nuisance param
    assert draft["nuisance"]["optimizer.momentum"]["high"] == 0.9
    assert len(reasons) == 6 and any("infeasible" in r for r in reasons)
    assert draft["scientific"] == {"model.depth": [1, 2]}  # no winner yet: still exploring
    parse_round(round_from_dict(draft), builtin_experiment())  # loads and validates as a round


def test_a_param_negligible_in_every_study_becomes_fixed():
    findings = [
        finding("importance", "optimizer.momentum", study=s, fixed=0.85) for s in ("s1", "s2")
    ]
    draft, reasons = draft_next_round(base_round(), findings, POINTS)
    assert "optimizer.momentum" not in draft["nuisance"]
    assert draft["fixed"]["optimizer.momentum"] == 0.85
    assert reasons[-1] == (
        "optimizer.momentum: nuisance -> fixed at 0.85 (importance: negligible in all 2 studies)"
    )


def test_a_round_with_its_questions_answered_drafts_the_exploitation_round():
    draft, reasons = draft_next_round(base_round(), [winner("s2")], POINTS, spent=20)
    text = render(draft, reasons, "round_1's findings")
    assert text.startswith("# Next-round draft, made from round_1's findings")
    loaded = yaml.safe_load(text)
    assert loaded["scientific"] == {} and loaded["fixed"]["model.depth"] == 2
    assert loaded["nuisance"] == base_round()["nuisance"]  # every nuisance param still tuned
    assert loaded["budget"]["sampler"] == "tpe"
    assert loaded["budget"]["trials_per_study"] == 20  # the round's whole budget
    assert loaded["budget"]["seed"] == 1 and loaded["name"] == "round_1_next"
    assert "model.depth=2" in loaded["goal"]
    assert any("exploitation" in r for r in reasons)
    parse_round(round_from_dict(loaded), builtin_experiment())


def test_exploration_goes_on_while_a_losing_value_has_an_open_question():
    # the runner-up's learning rate wants a wider range: it may win once it has it
    open_edge = finding("boundary", "optimizer.lr", study="s1", high=30.0)
    draft, reasons = draft_next_round(base_round(), [winner("s2"), open_edge], POINTS, spent=20)
    assert draft["scientific"] == {"model.depth": [1, 2]}
    assert draft["nuisance"]["optimizer.lr"]["high"] == 30.0
    assert draft["budget"].get("sampler", "qmc") == "qmc"
    assert any("exploration goes on: open for s1 (boundary)" in r for r in reasons)
    # the winner's own edge is answered inside the exploitation round instead
    own_edge = finding("boundary", "optimizer.lr", study="s2", high=30.0)
    draft, _ = draft_next_round(base_round(), [winner("s2"), own_edge], POINTS, spent=20)
    assert draft["scientific"] == {} and draft["nuisance"]["optimizer.lr"]["high"] == 30.0


def test_no_draft_replays_its_round_and_chained_drafts_keep_moving():
    raw = base_round()
    seeds = []
    for _ in range(3):
        points = (
            {f"{raw['name']}/{k}": v for k, v in POINTS.items()}
            if raw["scientific"]
            else {raw["name"]: {}}
        )
        first = next(iter(points))
        raw, _ = draft_next_round(raw, [winner(first)], points, spent=12)
        seeds.append(raw["budget"]["seed"])
        parse_round(round_from_dict(raw), builtin_experiment())
    assert seeds == [1, 2, 3]  # a new sampler seed each time, never the one before
    assert raw["budget"]["sampler"] == "tpe" and raw["scientific"] == {}


def test_round_from_dict_names_unknown_keys():
    with pytest.raises(ConfigError, match="unknown keys \\['goals'\\]"):
        round_from_dict({**base_round(), "goals": "x"})


def test_a_step_budget_on_a_length_key_the_round_varies_leaves_it_alone():
    raw = base_round()
    raw["scientific"] = {"train.steps": [100, 300]}
    raw["fixed"] = {}
    draft, reasons = draft_next_round(
        raw, [finding("step_budget", **{"train.steps": 600})], POINTS
    )
    assert "train.steps" not in draft.get("fixed", {})
    assert reasons[-1] == "train.steps: left as it is (scientific here; step_budget suggests 600)"
    parse_round(round_from_dict(draft), builtin_experiment())  # still a valid round


def test_a_pruner_warned_about_in_an_exploration_round_is_off_in_the_draft():
    raw = base_round()
    raw["budget"]["pruner"] = "hyperband"
    warned = Finding("pruning", "warn", "exploration", "s1", None, {})
    draft, reasons = draft_next_round(raw, [warned], POINTS)
    assert draft["budget"]["pruner"] == "none"
    assert reasons[-1] == "budget.pruner: hyperband -> none (pruning: exploration)"
    info = Finding("pruning", "info", "pruned 3", "s1", None, {})
    assert draft_next_round(raw, [info], POINTS)[0]["budget"]["pruner"] == "hyperband"


def test_an_exploitation_draft_settles_the_conditions_on_the_winner():
    raw = dataclasses.asdict(
        RoundConfig(
            name="round_3",
            goal="sgd or adamw?",
            scientific={"optimizer.name": ["sgd", "adamw"]},
            nuisance={
                "optimizer.lr": [
                    {"low": 0.01, "high": 3.0, "log": True, "when": {"optimizer.name": "sgd"}},
                    {"low": 1e-4, "high": 0.1, "log": True, "when": {"optimizer.name": "adamw"}},
                ],
                "optimizer.momentum": {
                    "low": 0.5,
                    "high": 0.98,
                    "when": {"optimizer.name": "sgd"},
                },
            },
            presets={"adam_budget": {"when": {"optimizer.name": "adamw"}}},
        )
    )
    points = {"round_3/optimizer.name=sgd": {"optimizer.name": "sgd"},
              "round_3/optimizer.name=adamw": {"optimizer.name": "adamw"}}  # fmt: skip
    draft, reasons = draft_next_round(
        raw, [winner("round_3/optimizer.name=adamw")], points, spent=20
    )
    assert draft["fixed"]["optimizer.name"] == "adamw" and draft["scientific"] == {}
    assert draft["nuisance"]["optimizer.lr"] == {"low": 1e-4, "high": 0.1, "log": True}
    assert "optimizer.momentum" not in draft["nuisance"]
    assert draft["presets"] == {}  # written out: lr (explicit wins) and beta1 at 10+ trials
    assert draft["nuisance"]["optimizer.beta1"] == {"low": 0.5, "high": 0.99}
    assert any(r.startswith("optimizer.momentum: dropped") for r in reasons)
    parse_round(round_from_dict(draft), builtin_experiment())  # a valid round
