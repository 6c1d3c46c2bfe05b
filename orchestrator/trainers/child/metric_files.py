"""Metric files a program writes itself, read while it runs: a TensorBoard folder and its
subfolders (scalars by tag, through TensorBoard's own ``EventMultiplexer``) and a CSV log
(a header row of metric names, one row per step).

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
    """The scalars of the event files in ``folder`` and its subfolders: a scalar in
    ``folder`` itself is named by its tag, one in a subfolder ``<subfolder>/<tag>``
    (PyTorch's ``add_scalars("loss", {"val": ...})`` writes tag ``loss`` into the
    subfolder ``loss_val``: ``loss_val/loss``; Lightning's ``version_0/val_loss``)."""

    folder: Path
    seen: dict[str, int] = field(default_factory=dict)  # metric -> events handed out
    read_at: float = float("-inf")
    steps: Steps = field(default_factory=Steps)
    runs: Any = None  # TensorBoard's EventMultiplexer: one accumulator per folder

    def read(self, last: bool = False) -> list[Record]:
        """The scalars written since the last read (every few seconds while it runs)."""
        now = time.monotonic()
        if not last and now - self.read_at < TENSORBOARD_SECONDS:
            return []
        self.read_at = now
        if not self.folder.is_dir():
            return []
        if self.runs is None:
            from tensorboard.backend.event_processing import event_accumulator as ea
            from tensorboard.backend.event_processing import event_multiplexer as em

            logging.getLogger("tensorboard").setLevel(logging.WARNING)  # not a line per read
            self.runs = em.EventMultiplexer(size_guidance={ea.SCALARS: 0})
        self.runs.AddRunsFromDirectory(str(self.folder))  # a subfolder may appear any time
        self.runs.Reload()
        records: list[Record] = []
        for run, tags in sorted(self.runs.Runs().items()):
            for tag in tags["scalars"]:
                name = tag if run == "." else f"{Path(run).as_posix()}/{tag}"
                events = self.runs.Scalars(run, tag)
                for event in events[self.seen.get(name, 0) :]:
                    records.append((self.steps.of(event.step), {name: float(event.value)}))
                self.seen[name] = len(events)
        return records

    def summary(self) -> str:
        if not self.seen:
            return f"tensorboard {self.folder}: no scalars (no event files there, or none yet)"
        tags = ", ".join(f"{tag} ({n})" for tag, n in sorted(self.seen.items()))
        return f"tensorboard {self.folder}: scalars {tags}"


@dataclass
class CsvSource:
    """A CSV log: its header names the metrics; a ``step``/``epoch`` column (any case) is
    the step, else the row order.

    Loggers rewrite their file when a new metric appears (Lightning's ``CSVLogger`` writes
    the whole file again under the wider header the first time ``val_loss`` is logged;
    ``DataFrame.to_csv`` each epoch rewrites it every time). A file whose header line
    changed, or that shrank below what was read, is read again from its start, and the rows
    already handed out are skipped there, so each row counts once."""

    path: Path
    tail: LineTail = field(init=False)
    header: list[str] | None = None
    header_line: bytes = b""  # the header as written, to notice a rewrite
    rows: int = 0  # rows handed out
    skip: int = 0  # rows of a rewritten file already handed out before the rewrite
    names: set[str] = field(default_factory=set)
    steps: Steps = field(default_factory=Steps)

    def __post_init__(self) -> None:
        self.tail = LineTail(self.path)

    def read(self, last: bool = False) -> list[Record]:
        """The rows written since the last read."""
        if self.header is not None and self._rewritten():
            self.tail, self.header, self.skip = LineTail(self.path), None, self.rows
            self.steps = Steps()  # the rewritten file's rows count from its start again
        records: list[Record] = []
        for row in csv.reader(self.tail.new_lines(final=last)):
            if not row:
                continue
            if self.header is None:
                self.header = [name.strip() for name in row]
                self.header_line = _first_line(self.path)[0]
                continue
            record = self._record(row)
            if record is None:
                continue
            if self.skip:
                self.skip -= 1
                continue
            self.rows += 1
            self.names.update(record[1])
            records.append(record)
        return records

    def _rewritten(self) -> bool:
        """Whether the file was written again from its start since the last read."""
        first, size = _first_line(self.path)
        return size < self.tail.offset or first != self.header_line

    def _record(self, row: list[str]) -> Record | None:
        assert self.header is not None
        step: int | None = None
        metrics: Metrics = {}
        for name, cell in zip(self.header, row, strict=False):
            if not name:
                continue  # an unnamed column (pandas' index): not a metric
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
        return self.steps.of(step), metrics

    def summary(self) -> str:
        if self.header is None:
            return f"csv {self.path}: not written (or empty)"
        if not self.rows:
            return f"csv {self.path}: header {', '.join(self.header)}, no row of numbers"
        return f"csv {self.path}: {self.rows} row(s), metrics {', '.join(sorted(self.names))}"


def _first_line(path: Path) -> tuple[bytes, int]:
    """(the file's first line without its line end, its size); empty when it is missing."""
    try:
        with open(path, "rb") as handle:
            return handle.readline().rstrip(b"\r\n"), handle.seek(0, 2)
    except FileNotFoundError:
        return b"", 0
