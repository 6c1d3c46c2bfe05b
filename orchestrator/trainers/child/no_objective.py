"""The error of a child that ended by itself without the objective's metric: what each
metric source found, and the tail of what the child printed, so the pattern to write (or
fix) can be seen at once. It stops the round (a ``TrainerContractError``): every trial of
the same program would end the same way."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.trainers.child.sources import LINE_FILES, MetricSources

TAIL_LINES = 12  # of stdout and of stderr
TAIL_LINE_CHARS = 200


def no_objective(metric: str, sources: MetricSources, trial_dir: Path) -> str:
    """The message: the metric missed, each source's finding, the output's tail, the fix."""
    found = "\n".join(f"  {line}" for line in sources.summaries())
    return (
        f"the program exited without the objective's metric {metric!r} in its output.\n"
        f"What was read (trainer.metrics):\n{found}\n{_tails(trial_dir)}"
        f"Report it (trial_report's report(step, {metric}=...), or a JSON line "
        f'{{"step": 1, "{metric}": value}}), name the metric as printed (objective.metric), '
        f"or add a pattern that reads it: "
        f"trainer.metrics.lines=[key_value] for 'name=value' / 'name: value' lines, [columns]"
        f" for '| valid loss 5.59 |' columns, or a regex such as "
        f"'valid loss +(?P<{_group(metric)}>[\\d.]+)'; try one on a saved log first: "
        f"orchestrator stage=metrics metrics_log={trial_dir / LINE_FILES[0]} "
        f"(files in {trial_dir})"
    )


def _group(metric: str) -> str:
    """``metric`` as a regex group name (letters, digits, underscores)."""
    name = "".join(c if c.isalnum() else "_" for c in metric)
    return name if name[:1].isalpha() else f"m_{name}"


def _tails(trial_dir: Path) -> str:
    parts = []
    for name in LINE_FILES:
        lines = last_lines(trial_dir / name, TAIL_LINES)
        shown = "\n".join(f"  | {line[:TAIL_LINE_CHARS]}" for line in lines) or "  (empty)"
        parts.append(f"{name} ends:\n{shown}\n")
    return "".join(parts)


def last_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of a file (its end only is read); none if it is missing."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(handle.seek(0, os.SEEK_END) - 400 * count, 0))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.rstrip("\n").splitlines()[-count:] if text.strip() else []
