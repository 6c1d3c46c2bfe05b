"""The schema of every config section a YAML file under ``conf/`` fills, besides the
experiment (``orchestrator/train/config.py``) and the round (``config/round.py``).

Plain dataclasses, so every stage can take its section without Hydra, and so the root
schema (``config/schema.py``) can compose them without importing the stages that use
them (the probe's measurement, for one, imports torch; its settings must not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.exceptions import ConfigError
from orchestrator.train.numbers import is_finite, is_whole


@dataclass
class MetricsConfig:
    """command: where its metrics are read besides ``trial_report`` (docs/own-code.md,
    "Reading metrics from a program's output")."""

    lines: list[str] = field(default_factory=lambda: ["json"])  # presets or your regexes
    tensorboard: str | None = None  # a folder of event files (relative: the trial's folder)
    csv: str | None = None  # a CSV log: a header of metric names (relative: the trial's folder)


@dataclass
class TrainerConfig:
    """What trains a trial (a function, a Hydra app, a command), and the config keys it
    takes its seed and length from (docs/own-code.md)."""

    kind: str = "function"  # function | hydra_app | command
    _target_: str = (
        "orchestrator.train.fit"  # function: fn(config, report=None); hydra_app: its @hydra.main
    )
    seed_key: str | None = None  # promotion's seed reruns set it (built-in: train.seed)
    length_key: str | None = None  # the training length (built-in: train.steps)
    command: str | None = None  # command: the command line, e.g. "python train.py"
    args: str = "hydra"  # command: a trial's values as hydra (key=value) | argparse (--key value)
    subprocess: bool = False  # hydra_app: each trial in its own process (the app owns it)
    config_path: str | None = None  # hydra_app: its config dir (default: its decorator's)
    config_name: str | None = None  # hydra_app: its primary config (default: its decorator's)
    overrides: list[str] = field(default_factory=list)  # hydra_app: fixed, e.g. [trainer=cpu]
    timeout: float | None = None  # a child process's seconds per trial (None: no limit)
    grace: float = 10.0  # seconds a child gets to exit after it is asked to stop
    # Your reported metrics that are the curves the checks read: {train_loss: train/loss}
    curves: dict[str, str] = field(default_factory=dict)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)  # command: its metric sources


@dataclass
class PathsConfig:
    """Where outputs go; ``paths.studies=DIR`` moves the whole workspace."""

    studies: str = "studies"
    tensorboard: bool = True  # every trial as a TensorBoard run in studies/tensorboard/


@dataclass
class ServeConfig:
    """Where ``stage=dashboard`` and ``stage=tensorboard`` listen (loopback by default: the
    viewers have no login, so reach a remote box through an SSH tunnel)."""

    host: str = "127.0.0.1"
    dashboard_port: int = 8080
    tensorboard_port: int = 6006


@dataclass
class StorageConfig:
    """Where studies live. ``url`` for sqlite/rdb, ``path`` for the journal file."""

    kind: str = "sqlite"  # sqlite | journal | rdb (e.g. a PostgreSQL URL)
    url: str = "sqlite:///studies/tuning.db"
    path: str = "studies/journal.log"
    heartbeat_interval: int | None = 10  # seconds; None turns heartbeats off
    grace_period: int | None = 30  # seconds without a heartbeat before a trial is stale
    busy_timeout: float = 60.0  # sqlite: seconds a writer waits for the lock
    pool_size: int = 2  # rdb: connections per worker (the trial and its heartbeat thread)
    max_overflow: int = 2  # rdb: extra connections per worker under load


@dataclass
class ProbeConfig:
    """What the probe measures and how it decides (``conf/probe/default.yaml``)."""

    max_batch_size: int = 512  # largest size tried (a power of two); OOM may stop earlier
    warmup_steps: int = 3  # untimed steps per size (the first also measures CPU memory)
    timed_steps: int = 5  # at least this many steps per timed window
    repeats: int = 3  # timed windows per size; the median is reported
    min_repeat_seconds: float = 0.05  # a window also lasts at least this long (fast sizes)
    min_gain: float = 1.15  # doubling must raise throughput by this factor to still count
    bottleneck_gain: float = 1.5  # at small sizes doubling should give at least this
    cpu_memory_limit_mb: float | None = None  # CPU only: estimated peak above this = OOM
    apply: bool = False  # write the recommendation into the incumbent


def validate_probe(cfg: ProbeConfig) -> None:
    """Raise one ``ConfigError`` naming the first invalid ``probe.*`` key, or return None."""
    m = cfg.max_batch_size
    if not is_whole(m) or m < 1 or m & (m - 1):
        raise ConfigError("probe.max_batch_size", f"must be a power of two >= 1; got {m!r}")
    for key, low in (("warmup_steps", 1), ("timed_steps", 1), ("repeats", 1)):
        value = getattr(cfg, key)
        if not is_whole(value) or value < low:
            raise ConfigError(f"probe.{key}", f"must be an integer >= {low}; got {value!r}")
    if not is_finite(cfg.min_repeat_seconds) or cfg.min_repeat_seconds < 0:
        raise ConfigError(
            "probe.min_repeat_seconds", f"must be a number >= 0; got {cfg.min_repeat_seconds!r}"
        )
    for key in ("min_gain", "bottleneck_gain"):
        value = getattr(cfg, key)
        if not (is_finite(value) and 1 < value <= 2):
            raise ConfigError(
                f"probe.{key}",
                f"must be a throughput factor in (1, 2] (ideal scaling doubles it); got {value!r}",
            )
    limit = cfg.cpu_memory_limit_mb
    if limit is not None and not (is_finite(limit) and limit > 0):
        raise ConfigError("probe.cpu_memory_limit_mb", f"must be > 0 or null; got {limit!r}")


@dataclass
class AnalysisConfig:
    """Thresholds of the checks (``analysis:`` config group); every one has a default."""

    boundary_p: float = 0.05  # the objective's trend toward an edge must be this significant
    boundary_margin: float = 0.1  # ... and its fitted optimum this near the edge or beyond
    infeasible_warn: float = 0.2  # infeasible fraction that warrants a warning
    infeasible_block: float = 0.8  # ... and one that suggests a bug (blocks promotion)
    failed_warn: float = 0.2  # fraction of trials failing with one error that warrants a warning
    failed_block: float = 0.8  # ... and one where the training code is broken (blocks promotion)
    min_trials_per_param: int = 3  # fewer complete trials per tuned param (+1): under-sampled
    late_fraction: float = 0.25  # the "late" part of training for curve checks
    late_variance_warn: float = 0.1  # relative std of the late validation metric
    improving_tolerance: float = 0.01  # still improving: last eval beats the late ones by this
    saturation_fraction: float = 0.5  # best reached before this fraction: saturated early
    overfit_rise: float = 0.05  # rise of validation error from its best (points; loss: relative)
    grad_spike_factor: float = 5.0  # grad norm above this x its median is a spike
    step_budget_early: float = 0.10  # best step always in the first 10%: budget too large
    step_budget_late: float = 0.25  # ... always in the last 25%: a longer budget may help
    importance_negligible: float = 0.05  # importance below this: suggest fixing the param
