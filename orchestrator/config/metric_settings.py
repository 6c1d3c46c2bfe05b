"""Where a command trainer's metrics are read from, checked: line patterns over its stdout
and stderr (ready presets or your regexes), a TensorBoard folder and a CSV file it writes.

A program tuned unchanged prints its metrics in its own words
(``| end of epoch 1 | valid loss 5.59 | valid ppl 267.23``); these settings say how to read
them, so no wrapper script is needed. The parsing itself is in
``orchestrator/trainers/child/patterns.py`` and ``metric_files.py``; here each setting is
checked once, before any trial runs, with one ConfigError naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.exceptions import ConfigError

# A number as programs print it: 5.59, -1e-3, .5, nan, inf.
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)\b"
_NAME = r"[A-Za-z_][\w./-]*"
# The presets: each finds every (name, value) pair on a line; "json" is the JSON-lines reader.
PRESETS: dict[str, str | None] = {
    "json": None,  # {"step": 3, "val_loss": 0.4}
    # val_loss=0.41 acc: 0.9, as experiment trackers read output scalars
    "key_value": rf"(?<![\w./-])(?P<name>{_NAME})\s*[:=]\s*(?P<value>{NUMBER})"
    r"(?=[\s,;|)\]}]|$)",
    # | epoch 3 | valid loss 2.11 | valid ppl 8.25 |: words then a number between bars
    "columns": rf"(?:^|\|)\s*(?P<name>{_NAME}(?: {_NAME})*?)\s*:?\s+(?P<value>{NUMBER})"
    r"\s*(?=\||$)",
}
# A pair of these names (its last word, any case) is the line's step, not a metric.
STEP_NAMES = ("step", "epoch", "iter", "iteration", "global_step")
TRIAL_DIR = "{trial_dir}"  # in trainer.command and the paths: this trial's own folder


@dataclass(frozen=True)
class MetricSettings:
    """``trainer.metrics``: the line patterns (preset names or regexes), in the order they
    are tried on each line, and the files the program writes (None: not read)."""

    lines: tuple[str, ...] = ("json",)
    tensorboard: str | None = None
    csv: str | None = None


def metric_settings(lines: list[str], tensorboard: str | None, csv: str | None) -> MetricSettings:
    """``trainer.metrics`` checked: every pattern a preset or a regex with a named group."""
    for index, pattern in enumerate(lines):
        _check_pattern(f"trainer.metrics.lines[{index}]", pattern)
    for key, path in (("tensorboard", tensorboard), ("csv", csv)):
        if path is not None and not str(path).strip():
            raise ConfigError(f"trainer.metrics.{key}", "must name a path or be null")
    return MetricSettings(tuple(str(p) for p in lines), tensorboard, csv)


def _check_pattern(key: str, pattern: object) -> None:
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(
            key, f"must be a preset ({', '.join(PRESETS)}) or a regex; got {pattern!r}"
        )
    if pattern in PRESETS:
        return
    try:
        groups = set(re.compile(pattern).groupindex)
    except re.error as err:
        raise ConfigError(
            key, f"{pattern!r} is neither a preset ({', '.join(PRESETS)}) nor a regex: {err}"
        ) from None
    if not groups - {"step"}:
        raise ConfigError(
            key,
            f"{pattern!r} has no named group: name each metric's group, e.g. "
            r"'valid loss (?P<val_loss>[\d.]+)', and the step's (?P<step>\d+) if the line has one",
        )
