"""stage=metrics: what a command trainer would read from a saved log, before any trial runs.

``orchestrator stage=metrics metrics_log=saved.log`` reads the file as a trial's stdout is read
(``trainer.metrics.lines``; a ``.csv`` file as ``trainer.metrics.csv``, an event file's
folder as ``trainer.metrics.tensorboard``), or ``metrics_log=<a trial's folder>`` reads every
source of that trial. It prints what each pattern matched (or that it matched nothing),
the metrics with their steps, and the objective found; exit code 1 when the objective is
not there, as a trial printing that log would stop the round.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.experiment import Experiment
from orchestrator.config.metric_settings import MetricSettings
from orchestrator.config.schema import Config
from orchestrator.config.trainer_settings import CommandSettings
from orchestrator.exceptions import ConfigError
from orchestrator.trainers.child.metric_files import CsvSource, TensorBoardSource
from orchestrator.trainers.child.run import ChildOutput
from orchestrator.trainers.child.sources import MetricSources, log_sources, trial_sources
from orchestrator.trainers.reports import Reports

TENSORBOARD_FILE = "events.out.tfevents"


def metrics(root: Config, experiment: Experiment) -> int:
    """Read ``metrics_log`` through the configured sources and print what was found."""
    if not root.metrics_log:
        raise ConfigError(
            "metrics_log",
            "stage=metrics reads a saved log: metrics_log=path/to/train.log (your program's "
            "output), a .csv log, an event file, or a trial's folder "
            "(studies/trials/<round>/<study>/<n>)",
        )
    path = Path(root.metrics_log).expanduser()
    if not path.exists():
        raise ConfigError("metrics_log", f"{path} does not exist")
    settings = experiment.trainer_settings
    metric_settings = MetricSettings()  # JSON lines: what any child trainer's stdout gives
    if isinstance(settings, CommandSettings):
        metric_settings = settings.metrics
    sources = _sources(path, metric_settings)
    output = ChildOutput(sources, Reports.of(experiment))
    output.feed(last=True)
    print(f"metrics read from {path} (trainer.metrics.lines, tried in order):")
    for line in sources.summaries():
        print(f"  {line}")
    _print_metrics(output)
    return _print_objective(output, experiment)


def _sources(path: Path, settings: MetricSettings) -> MetricSources:
    if path.is_dir():
        return trial_sources(settings, path)
    if path.suffix.lower() == ".csv":
        return MetricSources(files=[CsvSource(path)])
    if path.name.startswith(TENSORBOARD_FILE):
        return MetricSources(files=[TensorBoardSource(path.parent)])
    return log_sources(settings, [path])


def _print_metrics(output: ChildOutput) -> None:
    """A row per metric: how many steps carry it, the first and last step, the last value."""
    values = output.reports.values
    if values:
        print(f"  {'metric':<24} {'values':>6} {'steps':>12} {'last':>12}")
    for name, by_step in sorted(values.items()):
        steps = sorted(by_step)
        span = f"{steps[0]}..{steps[-1]}"
        print(f"  {name:<24} {len(steps):>6} {span:>12} {_value(by_step[steps[-1]]):>12}")
    for name, value in sorted(output.final.items()):
        print(f"  {name:<24} {'final':>6} {'(no step)':>12} {_value(value):>12}")


def _value(value: float | None) -> str:
    return "nan/inf" if value is None else f"{value:.6g}"


def _print_objective(output: ChildOutput, experiment: Experiment) -> int:
    metric = experiment.metric
    if not output.found(metric):
        seen = sorted(set(output.reports.values) | set(output.final))
        print(
            f"objective {metric} ({experiment.direction}): NOT FOUND in "
            f"{', '.join(seen) or 'any metric'}; a trial printing this would stop the round. "
            "Set objective.metric to a metric found, or trainer.metrics.lines to a pattern "
            "that reads it (docs/own-code.md, 'Reading metrics from a program's output')"
        )
        return 1
    best, step = output.reports.best()
    if best is None:
        value = output.final.get(metric)
        print(f"objective {metric} ({experiment.direction}): {_value(value)} (final, no step)")
    else:
        print(f"objective {metric} ({experiment.direction}): best {best:.6g} at step {step}")
    return 0
