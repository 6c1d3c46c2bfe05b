"""Samplers for tuning rounds: a stateless quasi-random sampler, a factory, the Adam budget rule.

Exploration rounds (PLAYBOOK.md 3) use quasi-random search: scrambled Sobol (or Halton) points
cover the nuisance space uniformly, carry no adaptivity bias, and are trivially parallel. That
last property only holds if the point a trial gets is a pure function of something every worker
agrees on. Here it is ``(seed, point index)``: each trial records its index, a retry keeps the
index of the trial it repeats and a fresh trial takes the next unused one (``point_index.py``),
so workers sharing one study never draw the same point, a retried point is the same point, and
a round killed and resumed by a new process continues the same sequence where it stopped.

Exploitation rounds switch to Bayesian optimisation (TPE or a Gaussian process) or to a grid
(e.g. an exponential learning-rate sweep); :func:`make_sampler` builds any of them by name.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState
from scipy.stats import qmc

from orchestrator.exceptions import ConfigError
from orchestrator.rounds.point_index import assign_point_index, point_index

SAMPLERS: tuple[str, ...] = ("qmc", "random", "tpe", "gp", "grid")
# samplers that learn from history, so a new study starts from earlier trials (work/carry.py)
ADAPTIVE: tuple[str, ...] = ("tpe", "gp")
QMC_TYPES: tuple[str, ...] = ("sobol", "halton")

# Points are generated in aligned blocks of this size (a power of two, so Sobol blocks keep their
# balance properties and scipy never warns) and cached per block.
_BLOCK = 256


class QuasiRandomSampler(optuna.samplers.BaseSampler):
    """Seeded, scrambled quasi-random search whose point depends only on (seed, point index).

    A trial of point index ``n`` (``point_index.py``: the trial's number unless a retry
    came before it) gets point ``n`` of the scrambled sequence of dimension ``len(search_space)``
    generated from ``seed``; each declared parameter owns one fixed coordinate (its position in
    ``search_space``), and its value is that coordinate mapped by :func:`unit_to_value`.

    Why not Optuna's ``QMCSampler``:

    * it does not know the search space in advance, so it samples the first trial with its
      random independent sampler and infers the space from it; the first trial is therefore not
      a quasi-random point, and conditional parameters fall back to random sampling;
    * it finds the next sample index with a counter kept in the study's system attrs
      (read, then increment). Workers sharing a study race on that read-modify-write, so two
      of them can draw the same point, and the index is not tied to the trial.

    This sampler keeps no counter in the study: the full search space (conditional
    parameters included) is declared up front, and the sample index is recorded on the trial
    itself when Optuna creates it (under the round's claim lock), copied onto its retries.
    Two samplers with the same seed and space give identical parameters for the same index,
    in any process, at any time.

    Args:
        search_space: the round's full, ordered space, every parameter any trial may suggest
            (conditional ones included); insertion order fixes each name's coordinate.
        seed: scrambling seed; changing it picks another quasi-random sequence.
        qmc_type: ``"sobol"`` (default) or ``"halton"``.
        scramble: scramble the sequence (default); without it the seed has no effect.
    """

    def __init__(
        self,
        *,
        search_space: dict[str, BaseDistribution],
        seed: int,
        qmc_type: str = "sobol",
        scramble: bool = True,
    ) -> None:
        if qmc_type not in QMC_TYPES:
            raise ValueError(f"qmc_type must be one of {', '.join(QMC_TYPES)}; got {qmc_type!r}")
        self._search_space = dict(search_space)
        self._index = {name: i for i, name in enumerate(self._search_space)}
        self._seed = int(seed)
        self._qmc_type = qmc_type
        self._scramble = scramble
        self._blocks: dict[int, np.ndarray] = {}
        self._points: dict[int, int] = {}  # a running trial's id -> its point index
        self._lock = threading.Lock()

    @property
    def search_space(self) -> dict[str, BaseDistribution]:
        """The declared search space (a copy), in coordinate order."""
        return dict(self._search_space)

    @property
    def dimension(self) -> int:
        """The number of coordinates of each point: one per declared parameter."""
        return len(self._search_space)

    def coordinate(self, param_name: str) -> int:
        """The coordinate ``param_name`` owns; ValueError if it was not declared."""
        try:
            return self._index[param_name]
        except KeyError:
            declared = ", ".join(self._search_space) or "(none)"
            raise ValueError(
                f"parameter {param_name!r} is not in the declared search space of "
                f"QuasiRandomSampler; declared: {declared}. Declare every parameter the "
                "objective may suggest (conditional ones included)."
            ) from None

    def point(self, index: int) -> np.ndarray:
        """Point ``index`` of the sequence, an array in ``[0, 1)^dimension`` (a copy)."""
        if index < 0:
            raise ValueError(f"the point index must be >= 0; got {index}")
        block, offset = divmod(int(index), _BLOCK)
        point: np.ndarray = self._block(block)[offset].copy()
        return point

    def _block(self, block: int) -> np.ndarray:
        cached = self._blocks.get(block)
        if cached is not None:
            return cached
        with self._lock:  # scipy's engines are not safe to build concurrently
            cached = self._blocks.get(block)
            if cached is None:
                cached = self._generate(block)
                self._blocks[block] = cached
        return cached

    def _generate(self, block: int) -> np.ndarray:
        if self.dimension == 0:
            return np.empty((_BLOCK, 0))
        engine = self._engine()
        if block > 0:
            engine.fast_forward(block * _BLOCK)
        points: np.ndarray = engine.random(_BLOCK)
        return points

    def _engine(self) -> qmc.QMCEngine:
        # `rng=` (SPEC-7) rather than the legacy `seed=` keyword, which scipy is phasing out.
        rng = np.random.default_rng(self._seed)
        if self._qmc_type == "halton":
            return qmc.Halton(self.dimension, scramble=self._scramble, rng=rng)
        return qmc.Sobol(self.dimension, scramble=self._scramble, rng=rng)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._points[trial._trial_id] = assign_point_index(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._points.pop(trial._trial_id, None)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        index = self._points.get(trial._trial_id)
        if index is None:  # a trial this sampler did not start (kept from before_trial)
            index = point_index(trial)
        u = float(self.point(index)[self.coordinate(param_name)])
        return unit_to_value(u, param_distribution)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_blocks"], state["_points"] = {}, {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def unit_to_value(u: float, distribution: BaseDistribution) -> Any:
    """Map a unit coordinate ``u`` in ``[0, 1)`` to a value of ``distribution``, within bounds.

    Floats: linear, or log-uniform when ``log``; with ``step``, uniform over the grid
    ``low + k*step``. Ints: uniform over the valid ints ``low + k*step``; with ``log``,
    log-uniform over ``[low - 0.5, high + 0.5]`` then rounded (Optuna's own convention).
    Categoricals: ``choices[floor(u * len(choices))]``.
    """
    u = min(max(float(u), 0.0), math.nextafter(1.0, 0.0))
    if isinstance(distribution, CategoricalDistribution):
        choices = distribution.choices
        return choices[min(int(u * len(choices)), len(choices) - 1)]
    if isinstance(distribution, FloatDistribution):
        return _unit_to_float(u, distribution)
    if isinstance(distribution, IntDistribution):
        return _unit_to_int(u, distribution)
    raise TypeError(f"unsupported distribution {distribution!r}")


def _grid_index(u: float, n_values: int) -> int:
    """Index in ``0..n_values-1`` of the equal-width bin ``u`` falls in."""
    return min(int(u * n_values), n_values - 1)


def _unit_to_float(u: float, dist: FloatDistribution) -> float:
    low, high = dist.low, dist.high
    if dist.step is not None:
        n_steps = int(round((high - low) / dist.step))
        value = low + _grid_index(u, n_steps + 1) * dist.step
    elif dist.log:
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    else:
        value = low + u * (high - low)
    return float(min(max(value, low), high))


def _unit_to_int(u: float, dist: IntDistribution) -> int:
    low, high = dist.low, dist.high
    if dist.log:
        log_low, log_high = math.log(low - 0.5), math.log(high + 0.5)
        value = int(round(math.exp(log_low + u * (log_high - log_low))))
    else:
        value = low + _grid_index(u, (high - low) // dist.step + 1) * dist.step
    return int(min(max(value, low), high))


def make_sampler(
    name: str,
    *,
    seed: int,
    search_space: dict[str, BaseDistribution],
    grid: dict[str, list[Any]] | None = None,
) -> optuna.samplers.BaseSampler:
    """Build the sampler named by ``budget.sampler``: one of :data:`SAMPLERS`.

    ``qmc``: :class:`QuasiRandomSampler` over ``search_space``; ``random``; ``tpe``
    (multivariate, with the constant liar so parallel workers do not pile onto one point);
    ``gp`` (needs torch); ``grid``: every combination of ``grid``'s values, or of the
    categorical (and integer) params' values when ``grid`` is None.
    """
    if name == "qmc":
        return QuasiRandomSampler(search_space=search_space, seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    if name == "gp":
        return _gp_sampler(seed)
    if name == "grid":
        return optuna.samplers.GridSampler(search_space=build_grid(search_space, grid), seed=seed)
    raise ConfigError(
        "round.budget.sampler", f"must be one of {', '.join(SAMPLERS)}; got {name!r}"
    )


def _gp_sampler(seed: int) -> optuna.samplers.BaseSampler:
    try:
        return optuna.samplers.GPSampler(seed=seed)
    except ImportError as exc:
        raise ConfigError(
            "round.budget.sampler",
            f"'gp' needs PyTorch, which failed to import ({exc}); install torch or use 'tpe'",
        ) from exc


def build_grid(
    search_space: dict[str, BaseDistribution], grid: dict[str, list[Any]] | None = None
) -> dict[str, list[Any]]:
    """The grid for :class:`optuna.samplers.GridSampler`: explicit values, else enumerated ones.

    Each declared param takes its values from ``grid`` if given there, else all choices of a
    categorical or all valid ints of an integer param; a float param without grid values, a
    grid name that is not declared, an empty value list, or a value outside its param's range
    raise :class:`ConfigError` (key ``budget.sampler``).
    """
    grid = dict(grid or {})
    unknown = sorted(set(grid) - set(search_space)) if search_space else []
    if unknown:
        raise ConfigError(
            "round.budget.sampler",
            f"grid names {', '.join(unknown)} not in the search space "
            f"({', '.join(search_space)}); grid only declared parameters",
        )
    result = {name: list(values) for name, values in grid.items()}
    for name, dist in search_space.items():
        if name not in result:
            result[name] = _enumerate(name, dist)
        _check_grid_values(name, dist, result[name])
    return result


def _enumerate(name: str, dist: BaseDistribution) -> list[Any]:
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution):
        return list(range(dist.low, dist.high + 1, 1 if dist.log else dist.step))
    raise ConfigError(
        "round.budget.sampler",
        f"grid search needs values for the continuous parameter {name!r} ({dist}); "
        f"give them in the grid, e.g. {name}: [1.0, 0.1, 0.01]",
    )


def _check_grid_values(name: str, dist: BaseDistribution, values: list[Any]) -> None:
    if not values:
        raise ConfigError("round.budget.sampler", f"grid values for {name!r} are empty")
    for value in values:
        try:
            inside = dist._contains(dist.to_internal_repr(value))
        except ValueError:
            inside = False
        if not inside:
            raise ConfigError(
                "round.budget.sampler", f"grid value {value!r} for {name!r} is outside {dist}"
            )


# Raw nuisance specs for Adam (PLAYBOOK.md 2): the ranges a round tunes when the budget allows.
ADAM_PRESET_RANGES: dict[str, dict[str, Any]] = {
    "optimizer.lr": {"low": 1e-5, "high": 1e-1, "log": True},
    "optimizer.beta1": {"low": 0.5, "high": 0.99},
    "optimizer.eps": {"low": 1e-10, "high": 1e-3, "log": True},
    "optimizer.beta2": {"low": 0.9, "high": 0.9999},
}

# (minimum trials per study, parameter it adds), in order.
_ADAM_THRESHOLDS: tuple[tuple[int, str], ...] = (
    (1, "optimizer.lr"),
    (10, "optimizer.beta1"),
    (25, "optimizer.eps"),
    (50, "optimizer.beta2"),
)


def adam_budget_params(trials_per_study: int) -> list[str]:
    """Which Adam hyperparameters a study of ``trials_per_study`` trials can afford to tune.

    PLAYBOOK.md 2 (Adam tuning budget): fewer than 10 trials tune only the learning rate;
    10 to 24 add beta1; 25 or more add epsilon; "clearly more than 25", taken as 50 or more
    (twice the threshold), add beta2. Each added dimension thins the sampling of the others,
    and the later parameters matter less, so a small budget is best spent on the rate alone.
    """
    if trials_per_study < 1:
        raise ConfigError(
            "round.budget.trials_per_study", f"must be at least 1; got {trials_per_study}"
        )
    return [name for minimum, name in _ADAM_THRESHOLDS if trials_per_study >= minimum]


def adam_budget_nuisance(trials_per_study: int) -> dict[str, dict[str, Any]]:
    """The nuisance specs (copies of :data:`ADAM_PRESET_RANGES`) the budget rule selects."""
    return {
        name: copy.deepcopy(ADAM_PRESET_RANGES[name])
        for name in adam_budget_params(trials_per_study)
    }
