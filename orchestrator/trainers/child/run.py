"""A trial trained by a child process: a command (``python train.py``) or a Hydra app run
in a process of its own; its reports read while it runs, its answer made a result.

The child is given the trial's values as arguments (``process.py`` runs it),
and in its environment: ``ORCHESTRATOR_TRIAL`` (round/study/trial), ``ORCHESTRATOR_SEED``
(the value of the seed key), ``ORCHESTRATOR_TRIAL_DIR`` (its own folder), and what the
``trial_report`` helper needs (its folder on ``PYTHONPATH``, the metrics file, the stop
file). What it reports becomes curves and Optuna's intermediate values as for any
trainer. A child that exits non-zero or runs past the timeout is a FAILED trial with the
reason and the tail of its stderr; the round goes on. One that exits by itself without
the objective's metric breaks the contract: every trial would end the same way, so the
round stops at the first, with the lines it saw and what each pattern found.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.child import trial_report
from orchestrator.config.experiment import Experiment
from orchestrator.config.metric_settings import MetricSettings
from orchestrator.exceptions import TrainerContractError
from orchestrator.train.result import TrainResult
from orchestrator.trainers.answer import build_result, seed_of
from orchestrator.trainers.child.no_objective import no_objective
from orchestrator.trainers.child.process import run_child
from orchestrator.trainers.child.sources import MetricSources, trial_sources
from orchestrator.trainers.protocol import TrialPlace
from orchestrator.trainers.reports import Reports

STDERR_TAIL_CHARS = 1500
NO_PATTERNS = MetricSettings()  # JSON lines only, as a Hydra app's child reports
CHILD_HELPER_DIR = Path(trial_report.__file__).parent  # `import trial_report` in the child


class ChildTrialFailed(RuntimeError):
    """The child ended without a usable result; the message says why, with its stderr."""


def child_env(experiment: Experiment, place: TrialPlace) -> dict[str, str]:
    env = dict(os.environ)
    path = [str(CHILD_HELPER_DIR), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    if os.getcwd() not in path:  # the child imports the user's modules as the worker does
        path.append(os.getcwd())
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["PYTHONUNBUFFERED"] = "1"  # stdout metric lines arrive as they are printed
    env[trial_report.METRICS_ENV] = str(place.dir / "metrics.jsonl")
    env[trial_report.STOP_ENV] = str(place.dir / "stop")
    env["ORCHESTRATOR_TRIAL"] = place.label
    env["ORCHESTRATOR_TRIAL_DIR"] = str(place.dir)
    env["ORCHESTRATOR_OBJECTIVE"] = experiment.metric
    seed = seed_of(experiment)
    if seed is not None:
        env["ORCHESTRATOR_SEED"] = str(seed)
    return env


@dataclass(frozen=True)
class ChildLimits:
    """How long a child may run (None: no limit) and how long it gets to exit when asked."""

    timeout: float | None = None
    grace: float = 10.0


@dataclass
class ChildOutput:
    """What the child has reported so far, read as it writes it: its ``trial_report``
    file, its stdout and stderr through the line patterns, the files it writes
    (``sources.py``)."""

    sources: MetricSources
    reports: Reports
    final: dict[str, float] = field(default_factory=dict)  # lines without a step

    def feed(self, last: bool = False) -> bool:
        """Read the new metrics into the reports; whether the trial should stop now."""
        for source in self.sources.all():
            for step, metrics in source.read(last):
                if step is None:
                    self.final.update(metrics)
                else:
                    self.reports.report(step, **metrics)
        return self.reports.stopped

    def found(self, metric: str) -> bool:
        """Whether ``metric`` (the objective's) was read from any source."""
        return metric in self.reports.values or metric in self.final


def train_in_child(
    argv: Sequence[str],
    experiment: Experiment,
    reports: Reports,
    place: TrialPlace,
    limits: ChildLimits,
    metrics: MetricSettings = NO_PATTERNS,
) -> TrainResult:
    """Run ``argv`` as this trial's child; its reports and final metrics as a result."""
    place.dir.mkdir(parents=True, exist_ok=True)
    env = child_env(experiment, place)
    for name in (trial_report.METRICS_ENV, trial_report.STOP_ENV):
        Path(env[name]).unlink(missing_ok=True)  # a rerun into the same folder starts clean
    output = ChildOutput(trial_sources(metrics, place.dir), reports)
    outcome = run_child(
        argv,
        env=env,
        out_dir=place.dir,
        on_tick=output.feed,
        stop_file=Path(env[trial_report.STOP_ENV]),
        timeout=limits.timeout,
        grace=limits.grace,
    )
    output.feed(last=True)
    final = output.final
    if outcome.timed_out:
        raise ChildTrialFailed(
            f"timed out after {limits.timeout:g} s and was stopped{_tail(place)}"
        )
    if outcome.returncode != 0 and not outcome.stopped:
        raise ChildTrialFailed(f"{_exit(outcome.returncode)}{_tail(place)}")
    if not output.found(experiment.metric):
        raise TrainerContractError(no_objective(experiment.metric, output.sources, place.dir))
    return build_result(None, reports, experiment, final)


def _exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _tail(place: TrialPlace) -> str:
    """The end of the child's stderr, for the trial's error."""
    try:
        with open(place.dir / "stderr.log", "rb") as handle:
            handle.seek(max(handle.seek(0, os.SEEK_END) - 4 * STDERR_TAIL_CHARS, 0))
            text = handle.read().decode("utf-8", errors="replace").strip()
    except OSError:
        return ""
    if not text:
        return f" (stderr empty; files in {place.dir})"
    tail = text[-STDERR_TAIL_CHARS:]
    return f"; stderr ends:\n{tail}\n(files in {place.dir})"
