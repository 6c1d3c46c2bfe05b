"""A child trainer's metrics: JSON lines read while it runs (``trial_report``'s file, and
its stdout for scripts that print the same lines themselves).

A report line is ``{"step": 3, "val_accuracy": 0.91}``; a line without ``step`` holds final
metrics. Any other line (a log, a progress bar, JSON that is not all numbers) is not a
metric and is left alone. Non-finite values travel as text (``"nan"``): JSON has no NaN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Metrics = dict[str, float]


def parse_line(line: str) -> tuple[Any, Metrics] | None:
    """(step or None, metrics) when ``line`` is a metric line, else None. ``step`` is
    returned as written: the report hook checks it (an int >= 1)."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    step = record.pop("step", None)
    metrics: Metrics = {}
    for name, value in record.items():
        number = _number(value)
        if number is None:
            return None
        metrics[str(name)] = number
    if not metrics:
        return None
    return step, metrics


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("nan", "inf", "-inf", "+inf"):
        return float(value)
    return None


@dataclass
class LineTail:
    """New complete lines of a file another process appends to (a partial last line waits
    for its newline)."""

    path: Path
    offset: int = 0
    partial: bytes = field(default=b"")

    def new_lines(self, *, final: bool = False) -> list[str]:
        """Lines appended since the last call; ``final``: the partial last line too."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        data = self.partial + chunk
        *lines, self.partial = data.split(b"\n")
        if final and self.partial:
            lines.append(self.partial)
            self.partial = b""
        return [raw.decode("utf-8", errors="replace") for raw in lines]
