"""The quasi-random sampler, the sampler factory, the Adam budget rule (rounds/sampling.py)."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from scipy.stats import qmc

from orchestrator.exceptions import ConfigError
from orchestrator.rounds.sampling import (
    ADAM_PRESET_RANGES,
    SAMPLERS,
    QuasiRandomSampler,
    adam_budget_nuisance,
    adam_budget_params,
    make_sampler,
    unit_to_value,
)

SPACE: dict[str, BaseDistribution] = {
    "optimizer.lr": FloatDistribution(1e-5, 1e-1, log=True),
    "optimizer.momentum": FloatDistribution(0.0, 0.99),
    "model.width": IntDistribution(8, 64, step=8),
    "optimizer.name": CategoricalDistribution(["sgd", "adam", "adamw"]),
}
JUST_BELOW_ONE = math.nextafter(1.0, 0.0)


@pytest.fixture(autouse=True)
def _quiet_optuna() -> Iterator[None]:
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(previous)


def suggest(trial: optuna.Trial, name: str, dist: BaseDistribution) -> object:
    """Suggest ``name`` through the public API that matches ``dist``."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    assert isinstance(dist, FloatDistribution)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


def suggest_all(space: dict[str, BaseDistribution]) -> Callable[[optuna.Trial], float]:
    """An objective that suggests every param of ``space`` with its own distribution."""

    def objective(trial: optuna.Trial) -> float:
        for name, dist in space.items():
            suggest(trial, name, dist)
        return float(trial.number)

    return objective


def params_by_number(study: optuna.Study) -> list[dict]:
    return [t.params for t in sorted(study.trials, key=lambda t: t.number)]


def expected_params(
    sampler: QuasiRandomSampler, space: dict[str, BaseDistribution], n: int
) -> dict:
    point = sampler.point(n)
    return {name: unit_to_value(point[i], dist) for i, (name, dist) in enumerate(space.items())}


def sqlite_storage(path: Path) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(
        f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 30}}
    )


def run_qmc(seed: int, n_trials: int, space: dict[str, BaseDistribution] = SPACE) -> list[dict]:
    sampler = QuasiRandomSampler(search_space=space, seed=seed)
    study = optuna.create_study(sampler=sampler)
    study.optimize(suggest_all(space), n_trials=n_trials)
    return params_by_number(study)


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_points_and_params() -> None:
    a = QuasiRandomSampler(search_space=SPACE, seed=7)
    b = QuasiRandomSampler(search_space=SPACE, seed=7)
    for n in (0, 1, 5, 255, 256, 1000):
        np.testing.assert_array_equal(a.point(n), b.point(n))
    assert run_qmc(7, 16) == run_qmc(7, 16)


def test_different_seed_gives_different_points_and_params() -> None:
    a = QuasiRandomSampler(search_space=SPACE, seed=7)
    b = QuasiRandomSampler(search_space=SPACE, seed=8)
    for n in (0, 1, 300):
        assert not np.array_equal(a.point(n), b.point(n))
    assert run_qmc(7, 8) != run_qmc(8, 8)


def test_points_are_distinct_across_trial_numbers() -> None:
    sampler = QuasiRandomSampler(search_space=SPACE, seed=0)
    points = {tuple(sampler.point(n)) for n in range(256)}
    assert len(points) == 256


@pytest.mark.parametrize(("qmc_type", "engine"), [("sobol", qmc.Sobol), ("halton", qmc.Halton)])
def test_points_are_the_scipy_sequence_in_order(qmc_type: str, engine: type) -> None:
    sampler = QuasiRandomSampler(search_space=SPACE, seed=11, qmc_type=qmc_type)
    reference = engine(len(SPACE), scramble=True, rng=11).random(1024)  # spans 4 cache blocks
    ours = np.array([sampler.point(n) for n in range(1024)])
    np.testing.assert_array_equal(ours, reference)


def test_first_trial_is_point_zero_not_random() -> None:
    [first] = run_qmc(3, 1)
    point0 = qmc.Sobol(len(SPACE), scramble=True, rng=3).random(1)[0]
    assert first == {
        name: unit_to_value(point0[i], dist) for i, (name, dist) in enumerate(SPACE.items())
    }


def test_point_is_a_copy() -> None:
    sampler = QuasiRandomSampler(search_space=SPACE, seed=0)
    before = sampler.point(3)
    sampler.point(3)[:] = 0.5
    np.testing.assert_array_equal(sampler.point(3), before)


def test_sampler_survives_pickling_for_spawned_workers() -> None:
    sampler = QuasiRandomSampler(search_space=SPACE, seed=5)
    sampler.point(0)
    clone = pickle.loads(pickle.dumps(sampler))
    np.testing.assert_array_equal(clone.point(300), sampler.point(300))


def test_invalid_qmc_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="sobol, halton"):
        QuasiRandomSampler(search_space=SPACE, seed=0, qmc_type="lattice")


# --- coverage ----------------------------------------------------------------------------------


def test_uniform_coverage_beats_pseudo_random() -> None:
    space = {f"x{i}": FloatDistribution(0.0, 1.0) for i in range(4)}
    sampler = QuasiRandomSampler(search_space=space, seed=2)
    points = np.array([sampler.point(n) for n in range(256)])
    assert points.shape == (256, 4)
    for dim in range(4):
        bins = np.bincount((points[:, dim] * 16).astype(int), minlength=16)
        assert len(bins) == 16 and (bins > 0).all(), f"dimension {dim}: {bins}"
    uniform = np.random.default_rng(2).random((256, 4))
    assert qmc.discrepancy(points) < qmc.discrepancy(uniform)


def test_log_float_covers_every_decade() -> None:
    space = {"optimizer.lr": FloatDistribution(1e-5, 1.0, log=True)}
    values = [p["optimizer.lr"] for p in run_qmc(4, 32, space)]
    assert all(1e-5 <= v <= 1.0 for v in values)
    decades = {math.floor(math.log10(v)) for v in values}
    assert decades == {-5, -4, -3, -2, -1}


def test_sampled_values_stay_in_bounds_and_on_grid() -> None:
    for params in run_qmc(9, 64):
        assert 1e-5 <= params["optimizer.lr"] <= 1e-1
        assert 0.0 <= params["optimizer.momentum"] <= 0.99
        assert params["model.width"] in range(8, 65, 8)
        assert params["optimizer.name"] in ("sgd", "adam", "adamw")


@pytest.mark.parametrize(
    ("dist", "at_zero", "below_one"),
    [
        (FloatDistribution(-2.0, 3.0), -2.0, pytest.approx(3.0)),
        (FloatDistribution(1e-5, 1.0, log=True), pytest.approx(1e-5), pytest.approx(1.0)),
        (FloatDistribution(0.0, 1.0, step=0.25), 0.0, 1.0),
        (IntDistribution(0, 9, step=3), 0, 9),
        (IntDistribution(1, 100, log=True), 1, 100),
        (IntDistribution(5, 5), 5, 5),
        (CategoricalDistribution(["a", "b", "c"]), "a", "c"),
    ],
    ids=["float", "float-log", "float-step", "int-step", "int-log", "int-single", "categorical"],
)
def test_unit_to_value_edges(dist: BaseDistribution, at_zero: object, below_one: object) -> None:
    assert unit_to_value(0.0, dist) == at_zero
    assert unit_to_value(JUST_BELOW_ONE, dist) == below_one
    for u in (0.0, JUST_BELOW_ONE, 1.0, -0.1, 1.5):
        assert dist._contains(dist.to_internal_repr(unit_to_value(u, dist)))


@pytest.mark.parametrize(
    ("dist", "expected"),
    [
        (IntDistribution(0, 9, step=3), [0, 3, 6, 9]),
        (FloatDistribution(0.0, 1.0, step=0.25), [0.0, 0.25, 0.5, 0.75, 1.0]),
        (CategoricalDistribution(["sgd", "adam"]), ["sgd", "adam"]),
    ],
    ids=["int-step", "float-step", "categorical"],
)
def test_unit_to_value_is_uniform_over_discrete_values(
    dist: BaseDistribution, expected: list
) -> None:
    units = np.arange(1000) / 1000
    values = [unit_to_value(u, dist) for u in units]
    counts = [values.count(v) for v in expected]
    assert sum(counts) == 1000
    assert max(counts) - min(counts) <= 1


def test_unknown_param_raises_naming_it_and_the_declared_ones() -> None:
    sampler = QuasiRandomSampler(search_space=SPACE, seed=0)
    study = optuna.create_study(sampler=sampler)
    with pytest.raises(ValueError, match=r"'optimizer\.eps'.*optimizer\.lr, optimizer\.momentum"):
        study.optimize(lambda t: t.suggest_float("optimizer.eps", 1e-10, 1e-3), n_trials=1)


# --- conditional params ------------------------------------------------------------------------

COND_SPACE: dict[str, BaseDistribution] = {
    "optimizer.name": CategoricalDistribution(["sgd", "adam"]),
    "optimizer.momentum": FloatDistribution(0.0, 0.99),
    "optimizer.beta1": FloatDistribution(0.5, 0.99),
}


def conditional_objective(trial: optuna.Trial) -> float:
    if trial.suggest_categorical("optimizer.name", ["sgd", "adam"]) == "sgd":
        return trial.suggest_float("optimizer.momentum", 0.0, 0.99)
    return trial.suggest_float("optimizer.beta1", 0.5, 0.99)


def always_sgd_objective(trial: optuna.Trial) -> float:
    return trial.suggest_float("optimizer.momentum", 0.0, 0.99)


def test_conditional_params_take_their_own_coordinate() -> None:
    sampler = QuasiRandomSampler(search_space=COND_SPACE, seed=1)
    study = optuna.create_study(sampler=sampler)
    study.optimize(conditional_objective, n_trials=32)
    branches = {p["optimizer.name"] for p in params_by_number(study)}
    assert branches == {"sgd", "adam"}
    for trial in study.trials:
        point = sampler.point(trial.number)
        for i, (name, dist) in enumerate(COND_SPACE.items()):
            if name in trial.params:
                assert trial.params[name] == unit_to_value(point[i], dist)

    # Momentum does not depend on which branch other trials took.
    other = optuna.create_study(sampler=QuasiRandomSampler(search_space=COND_SPACE, seed=1))
    other.optimize(always_sgd_objective, n_trials=32)
    always = params_by_number(other)
    for n, params in enumerate(params_by_number(study)):
        if "optimizer.momentum" in params:
            assert params["optimizer.momentum"] == always[n]["optimizer.momentum"]


# --- resume and parallel workers ---------------------------------------------------------------


def test_resume_with_a_new_sampler_continues_the_sequence(tmp_path: Path) -> None:
    storage = sqlite_storage(tmp_path / "resume.db")
    for _ in range(2):  # a "killed" round, then a new process resuming it
        sampler = QuasiRandomSampler(search_space=SPACE, seed=21)
        study = optuna.create_study(
            storage=storage, study_name="round", sampler=sampler, load_if_exists=True
        )
        study.optimize(suggest_all(SPACE), n_trials=10)
    got = params_by_number(study)
    assert [t.number for t in study.trials] == list(range(20))
    assert got == [expected_params(sampler, SPACE, n) for n in range(20)]
    assert len({tuple(p.values()) for p in got}) == 20


def test_parallel_workers_never_share_a_point(tmp_path: Path) -> None:
    path = tmp_path / "parallel.db"
    optuna.create_study(storage=sqlite_storage(path), study_name="round")

    def worker() -> None:
        sampler = QuasiRandomSampler(search_space=SPACE, seed=33)
        study = optuna.load_study(
            study_name="round", storage=sqlite_storage(path), sampler=sampler
        )
        study.optimize(suggest_all(SPACE), n_trials=10)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(worker) for _ in range(2)]:
            future.result()

    study = optuna.load_study(study_name="round", storage=sqlite_storage(path))
    got = params_by_number(study)
    assert len(got) == 20
    assert len({tuple(p.values()) for p in got}) == 20
    reference = QuasiRandomSampler(search_space=SPACE, seed=33)
    assert got == [expected_params(reference, SPACE, n) for n in range(20)]


# --- factory -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("qmc", QuasiRandomSampler),
        ("random", optuna.samplers.RandomSampler),
        ("tpe", optuna.samplers.TPESampler),
        ("gp", optuna.samplers.GPSampler),
        ("grid", optuna.samplers.GridSampler),
    ],
)
def test_factory_builds_each_sampler(name: str, cls: type) -> None:
    space = {"optimizer.lr": FloatDistribution(1e-5, 1.0, log=True)}
    sampler = make_sampler(name, seed=0, search_space=space, grid={"optimizer.lr": [0.1, 0.01]})
    assert type(sampler) is cls


def test_factory_covers_every_listed_name() -> None:
    assert SAMPLERS == ("qmc", "random", "tpe", "gp", "grid")
    space = {"opt": CategoricalDistribution(["sgd", "adam"])}
    for name in SAMPLERS:
        assert isinstance(
            make_sampler(name, seed=0, search_space=space), optuna.samplers.BaseSampler
        )


def test_tpe_is_multivariate_with_constant_liar() -> None:
    sampler = make_sampler("tpe", seed=0, search_space=SPACE)
    assert sampler._multivariate is True
    assert sampler._constant_liar is True


def test_qmc_from_factory_uses_seed_and_space() -> None:
    sampler = make_sampler("qmc", seed=4, search_space=SPACE)
    reference = QuasiRandomSampler(search_space=SPACE, seed=4)
    np.testing.assert_array_equal(sampler.point(17), reference.point(17))


def test_unknown_sampler_name_raises_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        make_sampler("xyz", seed=0, search_space=SPACE)
    assert info.value.key == "round.budget.sampler"
    message = str(info.value)
    assert "'xyz'" in message
    for name in SAMPLERS:
        assert name in message


def test_grid_runs_exactly_the_given_values() -> None:
    values = [1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5]
    space = {"optimizer.lr": FloatDistribution(1e-5, 1.0, log=True)}
    sampler = make_sampler("grid", seed=0, search_space=space, grid={"optimizer.lr": values})
    study = optuna.create_study(sampler=sampler)
    study.optimize(suggest_all(space), n_trials=len(values))
    visited = [p["optimizer.lr"] for p in params_by_number(study)]
    assert sorted(visited) == sorted(values)


def test_grid_defaults_to_categorical_choices() -> None:
    space = {
        "optimizer.name": CategoricalDistribution(["sgd", "adam"]),
        "model.depth": CategoricalDistribution([2, 4, 8]),
    }
    study = optuna.create_study(sampler=make_sampler("grid", seed=0, search_space=space))
    study.optimize(suggest_all(space), n_trials=6)
    combos = {(p["optimizer.name"], p["model.depth"]) for p in params_by_number(study)}
    assert combos == {(o, d) for o in ("sgd", "adam") for d in (2, 4, 8)}


def test_grid_over_continuous_param_without_values_raises() -> None:
    with pytest.raises(ConfigError, match="optimizer.momentum") as info:
        make_sampler("grid", seed=0, search_space=SPACE, grid={"optimizer.lr": [0.1]})
    assert info.value.key == "round.budget.sampler"


@pytest.mark.parametrize(
    "grid",
    [{"optimizer.lr": []}, {"optimizer.lr": [10.0]}, {"optimizer.lr": [0.1], "other": [1]}],
)
def test_invalid_grid_raises(grid: dict[str, list]) -> None:
    space = {"optimizer.lr": FloatDistribution(1e-5, 1.0, log=True)}
    with pytest.raises(ConfigError) as info:
        make_sampler("grid", seed=0, search_space=space, grid=grid)
    assert info.value.key == "round.budget.sampler"


# --- Adam budget rule --------------------------------------------------------------------------

LR, BETA1, EPS, BETA2 = "optimizer.lr", "optimizer.beta1", "optimizer.eps", "optimizer.beta2"


@pytest.mark.parametrize(
    ("trials", "expected"),
    [
        (1, [LR]),
        (5, [LR]),
        (9, [LR]),
        (10, [LR, BETA1]),
        (24, [LR, BETA1]),
        (25, [LR, BETA1, EPS]),
        (49, [LR, BETA1, EPS]),
        (50, [LR, BETA1, EPS, BETA2]),
        (500, [LR, BETA1, EPS, BETA2]),
    ],
)
def test_adam_budget_rule(trials: int, expected: list[str]) -> None:
    assert adam_budget_params(trials) == expected
    assert list(adam_budget_nuisance(trials)) == expected


def test_adam_budget_rejects_no_trials() -> None:
    with pytest.raises(ConfigError):
        adam_budget_params(0)


def test_adam_budget_nuisance_returns_copies_of_the_presets() -> None:
    specs = adam_budget_nuisance(50)
    assert specs[LR] == {"low": 1e-5, "high": 1e-1, "log": True}
    assert specs[BETA1] == {"low": 0.5, "high": 0.99}
    assert specs[EPS] == {"low": 1e-10, "high": 1e-3, "log": True}
    assert specs[BETA2] == {"low": 0.9, "high": 0.9999}
    specs[LR]["low"] = 1.0
    assert ADAM_PRESET_RANGES[LR]["low"] == 1e-5
