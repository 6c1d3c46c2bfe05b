"""Metric files a program writes itself, read while it runs: a TensorBoard folder (scalars
by tag, through TensorBoard's own ``EventAccumulator``) and a CSV log (a header row of
metric names, one row per step).

Each source hands out only what is new since its last read, and says what it found (for
the error of a trial without its objective, and ``stage=metrics``). Steps count from 1: a
source whose first step is 0 has every step read one higher (``patterns.Steps``).
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.config.metric_settings import STEP_NAMES
from orchestrator.trainers.child.metric_lines import LineTail, Metrics
from orchestrator.trainers.child.patterns import Record, Steps

TENSORBOARD_SECONDS = 2.0  # how often a running child's event files are re-read


@dataclass
class TensorBoardSource:
    """The scalars of the event files in ``folder`` (not its subfolders), by tag."""

    folder: Path
    seen: dict[str, int] = field(default_factory=dict)  # tag -> events handed out
    read_at: float = float("-inf")
    steps: Steps = field(default_factory=Steps)
    accumulator: Any = None

    def read(self, last: bool = False) -> list[Record]:
        """The scalars written since the last read (every few seconds while it runs)."""
        now = time.monotonic()
        if not last and now - self.read_at < TENSORBOARD_SECONDS:
            return []
        self.read_at = now
        if not self.folder.is_dir():
            return []
        if self.accumulator is None:
            from tensorboard.backend.event_processing import event_accumulator as ea

            logging.getLogger("tensorboard").setLevel(logging.WARNING)  # not a line per read
            self.accumulator = ea.EventAccumulator(str(self.folder), size_guidance={ea.SCALARS: 0})
        self.accumulator.Reload()
        records: list[Record] = []
        for tag in self.accumulator.Tags()["scalars"]:
            events = self.accumulator.Scalars(tag)
            for event in events[self.seen.get(tag, 0) :]:
                records.append((self.steps.of(event.step), {tag: float(event.value)}))
            self.seen[tag] = len(events)
        return records

    def summary(self) -> str:
        if not self.seen:
            return f"tensorboard {self.folder}: no scalars (no event files there, or none yet)"
        tags = ", ".join(f"{tag} ({n})" for tag, n in sorted(self.seen.items()))
        return f"tensorboard {self.folder}: scalars {tags}"


@dataclass
class CsvSource:
    """A CSV log: its header names the metrics; a ``step``/``epoch`` column (any case) is
    the step, else the row order."""

    path: Path
    tail: LineTail = field(init=False)
    header: list[str] | None = None
    rows: int = 0
    names: set[str] = field(default_factory=set)
    steps: Steps = field(default_factory=Steps)

    def __post_init__(self) -> None:
        self.tail = LineTail(self.path)

    def read(self, last: bool = False) -> list[Record]:
        """The rows written since the last read."""
        records: list[Record] = []
        for row in csv.reader(self.tail.new_lines(final=last)):
            if not row:
                continue
            if self.header is None:
                self.header = [name.strip() for name in row]
                continue
            record = self._record(row)
            if record is not None:
                records.append(record)
        return records

    def _record(self, row: list[str]) -> Record | None:
        assert self.header is not None
        step: int | None = None
        metrics: Metrics = {}
        for name, cell in zip(self.header, row, strict=False):
            try:
                value = float(cell)
            except ValueError:
                continue  # an empty cell, a timestamp: not a metric
            if name.lower() in STEP_NAMES:
                step = int(value) if step is None and value.is_integer() else step
            else:
                metrics[name] = value
        if not metrics:
            return None
        self.rows += 1
        self.names.update(metrics)
        return self.steps.of(step), metrics

    def summary(self) -> str:
        if self.header is None:
            return f"csv {self.path}: not written (or empty)"
        if not self.rows:
            return f"csv {self.path}: header {', '.join(self.header)}, no row of numbers"
        return f"csv {self.path}: {self.rows} row(s), metrics {', '.join(sorted(self.names))}"
