"""A program's own log lines read as metrics: the ``trainer.metrics.lines`` patterns.

Each pattern is tried on a line in the order given; the first that finds a metric claims
the line. A preset finds every ``name value`` pair on it (``key_value``: ``loss=0.4 acc:
0.9``; ``columns``: ``| epoch 3 | valid loss 2.11 |``, words joined by ``_``:
``valid_loss``); a pair named like a step (``epoch``, ``step``) is the line's step. Your
regex's named groups are metric names, its ``step`` group the step. A line without a step
gets the pattern's line count (its 1st matched line is step 1). Steps count from 1: a
pattern whose first step is 0 has every step read one higher. Each pattern keeps what it
matched, so a trial that yields no objective, and ``stage=metrics``, can say which pattern
found what and which found nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from orchestrator.config.metric_settings import PRESETS, STEP_NAMES
from orchestrator.trainers.child.metric_lines import Metrics, parse_line

Record = tuple[Any, Metrics]  # (step as read, or None for final metrics), metrics


@dataclass
class Steps:
    """A source's steps counted from 1: its own (shifted by one when they start at 0), or
    the order of its records."""

    shift: int | None = None
    count: int = 0

    def of(self, raw: int | None) -> int:
        self.count += 1
        if raw is None:
            return self.count
        if self.shift is None:
            self.shift = 1 if raw == 0 else 0
        return raw + self.shift


@dataclass
class LinePattern:
    """One ``trainer.metrics.lines`` entry and what it has matched so far."""

    source: str  # the preset's name or your regex, as configured
    lines: int = 0  # lines it claimed
    first: str = ""  # the first of them
    names: set[str] = field(default_factory=set)
    steps: Steps = field(default_factory=Steps)

    def __post_init__(self) -> None:
        preset = PRESETS.get(self.source, self.source)
        self.regex = re.compile(preset) if preset is not None else None
        self.pairs = self.source in PRESETS

    def parse(self, line: str) -> Record | None:
        """(step, metrics) when this pattern finds a metric on ``line``, else None."""
        found = self._found(line)
        if found is None or not found[1]:
            return None
        raw_step, metrics = found
        self.lines += 1
        self.first = self.first or line.strip()
        self.names.update(metrics)
        if self.regex is None:  # JSON lines say their step themselves (None: final)
            return raw_step, metrics
        return self.steps.of(raw_step if isinstance(raw_step, int) else None), metrics

    def _found(self, line: str) -> Record | None:
        if self.regex is None:
            return parse_line(line)
        if self.pairs:
            pairs = [(m["name"], m["value"]) for m in self.regex.finditer(line)]
        else:
            match = self.regex.search(line)
            pairs = list(match.groupdict().items()) if match else []
        step: int | None = None
        metrics: Metrics = {}
        for name, text in pairs:
            value = _number(text)
            if value is None:
                continue
            key = name.replace(" ", "_")
            if name.split(" ")[-1].lower() in STEP_NAMES or name == "step":
                step = int(value) if value.is_integer() and value >= 0 else step
            else:
                metrics[key] = value
        return step, metrics

    def summary(self) -> str:
        """What this pattern found: the lines and metric names, or that it matched none."""
        if not self.lines:
            return f"pattern '{self.source}': matched no line"
        return (
            f"pattern '{self.source}': {self.lines} line(s), metrics "
            f"{', '.join(sorted(self.names))}; first: {self.first[:120]!r}"
        )


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)  # nan and inf too: a broken run must read as diverged
    except ValueError:
        return None


def line_patterns(sources: tuple[str, ...]) -> list[LinePattern]:
    """The configured patterns, in the order they are tried."""
    return [LinePattern(source) for source in sources]


def parse_with(patterns: list[LinePattern], line: str) -> Record | None:
    """The first pattern's record for ``line``, or None when none finds a metric."""
    for pattern in patterns:
        record = pattern.parse(line)
        if record is not None:
            return record
    return None
