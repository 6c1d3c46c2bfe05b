"""Round configs: every mistake is one ConfigError naming its key; valid rounds compose trials."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from orchestrator.config.experiment import builtin_experiment
from orchestrator.config.round import BudgetConfig, RoundConfig
from orchestrator.exceptions import ConfigError
from orchestrator.rounds.validate import parse_round

CONF = Path(__file__).resolve().parents[2] / "conf"


def make(**fields) -> RoundConfig:
    budget = fields.pop("budget", {})
    base = {
        "name": "r",
        "goal": "test",
        "scientific": {"model.depth": [1, 2]},
        "nuisance": {"optimizer.lr": {"low": 0.01, "high": 1.0, "log": True}},
    }
    return RoundConfig(**{**base, **fields}, budget=BudgetConfig(**budget))


def error_of(raw: RoundConfig) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_round(raw, builtin_experiment())
    return info.value


CASES = {
    "unknown scientific path": (
        make(scientific={"model.depht": [1, 2]}),
        "round.scientific.model.depht",
        "did you mean model.depth",
    ),
    "unknown nuisance path": (
        make(nuisance={"optimizer.lrr": {"low": 0.1, "high": 1.0}}),
        "round.nuisance.optimizer.lrr",
        "did you mean optimizer.lr",
    ),
    "unknown fixed path": (
        make(fixed={"train.step": 10}),
        "round.fixed.train.step",
        "train.steps",
    ),
    "nuisance that is also scientific": (
        make(nuisance={"model.depth": {"low": 1, "high": 4}}),
        "round.nuisance.model.depth",
        "already scientific",
    ),
    "fixed that is also scientific": (
        make(fixed={"model.depth": 3}),
        "round.fixed.model.depth",
        "already scientific",
    ),
    "nuisance that is also fixed": (
        make(fixed={"optimizer.lr": 0.1}),
        "round.nuisance.optimizer.lr",
        "already fixed",
    ),
    "low >= high": (
        make(nuisance={"optimizer.lr": {"low": 1.0, "high": 0.1}}),
        "round.nuisance.optimizer.lr",
        "low < high must hold; got low=1.0, high=0.1",
    ),
    "log with low <= 0": (
        make(nuisance={"optimizer.momentum": {"low": 0.0, "high": 0.9, "log": True}}),
        "round.nuisance.optimizer.momentum.low",
        "log range needs low > 0",
    ),
    "empty scientific list": (
        make(scientific={"model.depth": []}),
        "round.scientific.model.depth",
        "non-empty list",
    ),
    "empty choices": (
        make(nuisance={"model.activation": {"choices": []}}),
        "round.nuisance.model.activation.choices",
        "non-empty list",
    ),
    "when naming an unknown param": (
        make(
            nuisance={
                "optimizer.momentum": {"low": 0.5, "high": 0.9, "when": {"optim.name": "sgd"}}
            }
        ),
        "round.nuisance.optimizer.momentum.when.optim.name",
        "unknown parameter path",
    ),
    "when with a value the param never takes": (
        make(nuisance={"model.dropout": {"low": 0.1, "high": 0.5, "when": {"model.depth": 7}}}),
        "round.nuisance.model.dropout.when.model.depth",
        "can never be 7 in this round; it takes [1, 2]",
    ),
    "when on an unswept param with another value": (
        make(
            nuisance={
                "optimizer.beta1": {"low": 0.5, "high": 0.9, "when": {"optimizer.name": "adam"}}
            }
        ),
        "round.nuisance.optimizer.beta1.when.optimizer.name",
        "it takes ['sgd']",
    ),
    "scientific value the schema rejects": (
        make(scientific={"model.activation": ["relu", "swish"]}),
        "round.scientific.model.activation[1]",
        "model.activation: must be one of relu, gelu, tanh",
    ),
    "scientific value of the wrong type": (
        make(scientific={"model.depth": [2, "three"]}),
        "round.scientific.model.depth[1]",
        "takes an int",
    ),
    "unknown sampler": (make(budget={"sampler": "cmaes"}), "round.budget.sampler", "qmc, random"),
    "range on a string param": (
        make(nuisance={"model.norm": {"low": 0, "high": 1}}),
        "round.nuisance.model.norm",
        "give choices",
    ),
    "range endpoint the schema rejects": (
        make(fixed={"model.dropout": 1.5}),
        "round.fixed",
        "model.dropout",
    ),
    "several ranges without conditions": (
        make(nuisance={"optimizer.lr": [{"low": 0.1, "high": 1.0}, {"low": 0.01, "high": 0.1}]}),
        "round.nuisance.optimizer.lr",
        "each needs a 'when'",
    ),
    "unknown spec key": (
        make(nuisance={"optimizer.lr": {"low": 0.1, "high": 1.0, "scale": "log"}}),
        "round.nuisance.optimizer.lr",
        "unknown keys ['scale']",
    ),
    "zero trials": (
        make(budget={"trials_per_study": 0}),
        "round.budget.trials_per_study",
        ">= 1",
    ),
    "grid on a non-nuisance param": (
        make(budget={"sampler": "grid", "grid": {"optimizer.momentum": [0.9]}}),
        "round.budget.grid.optimizer.momentum",
        "not a nuisance parameter",
    ),
    "unknown preset": (make(presets={"lion_budget": {}}), "round.presets.lion_budget", "unknown"),
    "bad round name": (make(name="round 1"), "round.name", "letters, digits"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_mistake_is_one_error_naming_its_key(case):
    raw, key, hint = CASES[case]
    err = error_of(raw)
    assert err.key == key
    assert hint in str(err)


@pytest.mark.parametrize("path", sorted((CONF / "round").glob("*.yaml")), ids=lambda p: p.stem)
def test_the_example_rounds_are_valid(path):
    raw = yaml.safe_load(path.read_text())
    budget = raw.pop("budget")
    rnd = parse_round(RoundConfig(**raw, budget=BudgetConfig(**budget)), builtin_experiment())
    assert rnd.name == path.stem and rnd.goal


def test_studies_are_the_cartesian_product_of_scientific_values():
    rnd = parse_round(
        make(scientific={"model.depth": [1, 2], "model.use_dropout": [False, True]}),
        builtin_experiment(),
    )
    assert [rnd.study_name(p) for p in rnd.points()] == [
        "r/model.depth=1,model.use_dropout=false",
        "r/model.depth=1,model.use_dropout=true",
        "r/model.depth=2,model.use_dropout=false",
        "r/model.depth=2,model.use_dropout=true",
    ]
    assert parse_round(make(scientific={}), builtin_experiment()).points() == [{}]


class FakeTrial:
    """Records suggestions and answers each with the range's low end or first choice."""

    def __init__(self) -> None:
        self.asked: dict[str, object] = {}

    def suggest_float(self, name, low, high, *, step=None, log=False):
        self.asked[name] = FloatDistribution(low, high, step=step, log=log)
        return low

    def suggest_int(self, name, low, high, *, step=1, log=False):
        self.asked[name] = IntDistribution(low, high, step=step, log=log)
        return low

    def suggest_categorical(self, name, choices):
        self.asked[name] = CategoricalDistribution(choices)
        return choices[0]


def test_conditional_params_are_sampled_only_where_their_condition_holds():
    raw = make(
        scientific={"optimizer.name": ["sgd", "adamw"]},
        nuisance={
            "optimizer.lr": [
                {"low": 0.01, "high": 1.0, "log": True, "when": {"optimizer.name": "sgd"}},
                {"low": 1e-4, "high": 1e-2, "log": True, "when": {"optimizer.name": "adamw"}},
            ],
            "optimizer.momentum": {"low": 0.5, "high": 0.9, "when": {"optimizer.name": "sgd"}},
        },
        presets={"adam_budget": {"when": {"optimizer.name": "adamw"}}},
        budget={"trials_per_study": 12},
    )
    rnd = parse_round(raw, builtin_experiment())
    start = builtin_experiment()
    sgd, adamw = rnd.points()
    t = FakeTrial()
    assert rnd.suggest(t, start, sgd) == {"optimizer.lr": 0.01, "optimizer.momentum": 0.5}
    t = FakeTrial()
    sampled = rnd.suggest(t, start, adamw)
    # the Adam budget rule at 12 trials tunes lr and beta1; the explicit adamw lr range wins
    assert sampled == {"optimizer.lr": 1e-4, "optimizer.beta1": 0.5}
    assert t.asked["optimizer.lr"] == FloatDistribution(1e-4, 1e-2, log=True)


def test_trial_config_is_start_then_fixed_then_scientific_then_sampled():
    start = builtin_experiment().with_values(
        {"model.width": 48, "train.steps": 999, "optimizer.lr": 0.3}
    )
    rnd = parse_round(make(fixed={"train.steps": 120, "model.width": 16}), start)
    cfg = rnd.trial_config(start, {"model.depth": 2}, {"optimizer.lr": 0.05})
    assert (cfg.get("train.steps"), cfg.get("model.width")) == (120, 16)  # fixed beats start
    assert cfg.get("model.depth") == 2 and cfg.get("optimizer.lr") == 0.05
    assert cfg.get("model.norm") == start.get("model.norm")  # unnamed: the start value
    assert start.get("train.steps") == 999  # the start config itself is not modified


FOUR = {
    "optimizer.lr": {"low": 0.01, "high": 1.0, "log": True},
    "optimizer.momentum": {"low": 0.5, "high": 0.98},
    "optimizer.weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
    "schedule.name": {"choices": ["constant", "cosine"]},
}


def test_an_unset_budget_is_what_the_boundary_and_density_checks_need():
    one = parse_round(make(), builtin_experiment())
    assert one.trials_per_study == 10  # never below the smallest default
    four = parse_round(make(nuisance=FOUR), builtin_experiment())
    # density: 3 per tuned param plus one (13); boundary: 1 + 2 x 3 ranges + 2 (9)
    assert four.trials_per_study == 13
    strict = parse_round(make(nuisance=FOUR), builtin_experiment(), min_trials_per_param=5)
    assert strict.trials_per_study == 21
    set_ = parse_round(make(nuisance=FOUR, budget={"trials_per_study": 8}), builtin_experiment())
    assert set_.trials_per_study == 8  # a budget the round file sets is kept


def test_a_budget_too_small_for_the_checks_is_said_when_the_round_starts():
    from orchestrator.rounds.check_needs import short_budget_warning

    warning = short_budget_warning(8, tuned=4, range_params=3)
    assert warning is not None
    assert "the boundary check needs 9" in warning and "the density check needs 13" in warning
    assert short_budget_warning(13, tuned=4, range_params=3) is None
    assert short_budget_warning(5, tuned=0, range_params=0) is None
