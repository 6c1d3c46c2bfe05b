"""Every place one child's metrics are read from, as ``trainer.metrics`` configures them:
the ``trial_report`` file (JSON lines, always), its stdout and stderr through the line
patterns, and the TensorBoard folder and CSV file it writes.

A path setting is relative to the trial's own folder (``ORCHESTRATOR_TRIAL_DIR``) unless
it is absolute; ``{trial_dir}`` in it, as in ``trainer.command``, is that folder, so
parallel trials never read each other's files. The same sources serve a running trial and
``stage=metrics`` (a saved log read before any trial runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from orchestrator.config.metric_settings import TRIAL_DIR, MetricSettings
from orchestrator.trainers.child.metric_files import CsvSource, TensorBoardSource
from orchestrator.trainers.child.metric_lines import LineTail
from orchestrator.trainers.child.patterns import LinePattern, Record, line_patterns, parse_with

METRICS_FILE = "metrics.jsonl"  # trial_report's file in the trial's folder
LINE_FILES = ("stdout.log", "stderr.log")  # the child's output, kept in its folder


class Source(Protocol):
    def read(self, last: bool = False) -> list[Record]: ...

    def summary(self) -> str: ...


@dataclass
class LineSource:
    """A file of lines (the child's stdout, a saved log) read through the patterns."""

    tail: LineTail
    patterns: list[LinePattern]

    def read(self, last: bool = False) -> list[Record]:
        records = (parse_with(self.patterns, line) for line in self.tail.new_lines(final=last))
        return [record for record in records if record is not None]

    def summary(self) -> str:
        return "; ".join(pattern.summary() for pattern in self.patterns)


@dataclass
class MetricSources:
    """The sources of one trial (or one saved log), and what each found."""

    line_files: list[LineSource] = field(default_factory=list)
    files: list[Source] = field(default_factory=list)  # the report file, TensorBoard, CSV
    patterns: list[LinePattern] = field(default_factory=list)

    def all(self) -> list[Source]:
        return [*self.files, *self.line_files]

    def summaries(self) -> list[str]:
        """A line per pattern and per file: what it found, or that it found nothing."""
        files = [source.summary() for source in self.files]
        return [pattern.summary() for pattern in self.patterns] + [s for s in files if s]


class _ReportFile(LineSource):
    """``trial_report``'s JSON lines (always read; said nothing of when unused)."""

    def summary(self) -> str:
        pattern = self.patterns[0]
        if not pattern.lines:
            return ""
        return f"trial_report's {METRICS_FILE}: {pattern.summary().split(': ', 1)[1]}"


def in_trial_dir(setting: str, trial_dir: Path) -> Path:
    """A path setting as a path: ``{trial_dir}`` replaced; relative to the trial's folder."""
    path = Path(setting.replace(TRIAL_DIR, str(trial_dir))).expanduser()
    return path if path.is_absolute() else trial_dir / path


def trial_sources(settings: MetricSettings, trial_dir: Path) -> MetricSources:
    """The sources of a trial whose files are (or will be) in ``trial_dir``."""
    patterns = line_patterns(settings.lines)
    sources = log_sources(settings, [trial_dir / name for name in LINE_FILES], patterns)
    report_file = _ReportFile(LineTail(trial_dir / METRICS_FILE), line_patterns(("json",)))
    sources.files.insert(0, report_file)
    if settings.tensorboard is not None:
        sources.files.append(TensorBoardSource(in_trial_dir(settings.tensorboard, trial_dir)))
    if settings.csv is not None:
        sources.files.append(CsvSource(in_trial_dir(settings.csv, trial_dir)))
    return sources


def log_sources(
    settings: MetricSettings, logs: list[Path], patterns: list[LinePattern] | None = None
) -> MetricSources:
    """Saved logs read through the configured line patterns."""
    patterns = patterns if patterns is not None else line_patterns(settings.lines)
    return MetricSources([LineSource(LineTail(log), patterns) for log in logs], [], patterns)
