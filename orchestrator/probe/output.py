"""The probe's outputs: the terminal table, the JSON and chart files, applying to the incumbent."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config.sections import ProbeConfig
from orchestrator.config.yaml_files import read_yaml
from orchestrator.exceptions import ConfigError
from orchestrator.probe.measure import run_probe
from orchestrator.probe.model import NOISY_SPREAD, TABLE_HEADER, ProbeResult, format_row
from orchestrator.probe.rule import noisy_sizes
from orchestrator.store import paths
from orchestrator.store.files import atomic_write
from orchestrator.train.config import (
    ExperimentConfig,
    experiment_from_dict,
    experiment_to_dict,
    validate_experiment,
)


def format_table(result: ProbeResult) -> str:
    """The terminal report: one row per size, then the verdict (and a bottleneck warning)."""
    v = result.verdict
    shape = "x".join(str(s) for s in result.input_shape)
    lines = [
        f"batch-size probe: {result.model} ({result.num_params:,} parameters) on "
        f"{result.data} ({shape}), {result.device_name}",
        TABLE_HEADER,
    ]
    for point, gain in zip(result.points, v.gains, strict=True):
        marks = [m for m, size in (("<- recommended", v.recommended),) if size == point.batch_size]
        if point.batch_size == v.saturation:
            marks.append("<- saturation")
        if point.batch_size in v.tolerated_dips:
            marks.append("(dip, tolerated)")
        lines.append(" ".join([format_row(point, gain), *marks]))
    if result.oom_at is not None:
        lines.append(f"{result.oom_at:>6}  out of memory: {result.oom_error}")
    lines.append(f"stopped: {result.stop_reason}; peak memory: {result.memory_measure}")
    lines.append(f"recommended batch size: {v.recommended} ({v.reason})")
    if v.bottleneck:
        lines.append(f"WARNING bottleneck: {v.bottleneck_reason}")
    elif v.bottleneck_reason:
        lines.append(f"note: {v.bottleneck_reason}")
    noisy = noisy_sizes(result.points)
    if noisy:
        lines.append(
            f"WARNING noisy timings at batch sizes {noisy} (timed windows differ by more "
            f"than {NOISY_SPREAD:g}x): "
            "the machine is busy, so the recommendation is unreliable; rerun when it is idle "
            "(on a shared CPU, train.threads=1 gives steadier numbers)"
        )
    current = result.experiment.get("train", {}).get("batch_size")
    if current is not None and current != v.recommended:
        lines.append(
            f"the probed config uses train.batch_size={current}; probe.apply=true writes "
            f"{v.recommended} into the incumbent (then re-tune the optimizer)"
        )
    return "\n".join(lines)


def probe_file(studies_dir: str | Path, result: ProbeResult) -> Path:
    """``studies/probes/<model>-<data>-<device>.json``, e.g. ``cnn-synthetic-cpu.json``."""
    return Path(studies_dir) / "probes" / f"{result.model}-{result.data}-{result.device}.json"


def write_probe(result: ProbeResult, studies_dir: str | Path) -> tuple[Path, Path]:
    """Write the JSON record (atomically) and the chart next to it: (json path, html path)."""
    from orchestrator.probe.chart import write_probe_html  # plotly only when writing

    json_path = probe_file(studies_dir, result)
    text = json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"
    atomic_write(json_path, text)
    html_path = write_probe_html(result, json_path.with_suffix(".html"))
    return json_path, html_path


def apply_to_incumbent(
    incumbent_path: str | Path,
    recommended: int,
    *,
    base: ExperimentConfig | None = None,
    probe_path: str | Path | None = None,
) -> str:
    """Write ``train.batch_size = recommended`` into the incumbent YAML, atomically.

    The incumbent is an experiment dict under an ``experiment:`` key (as
    ``orchestrator.incumbent`` writes it) or at the top level; every other value and key
    is kept (YAML comments are not). In the ``experiment:`` layout a ``batch_size_probe``
    key records the change and the probe file behind it. A missing incumbent is created
    from ``base`` (required then) in that layout. The result is validated before it
    replaces the file (temporary file in the same directory, fsync, ``os.replace``).
    Returns a message for the user: later rounds must re-tune the optimizer, because the
    best learning rate (and most optimizer and regularisation settings) depend on the
    batch size.
    """
    path = Path(incumbent_path)
    document = _incumbent_document(path, base)
    experiment = document.get("experiment", document)
    train = experiment.get("train") or {}
    experiment["train"] = train
    previous = train.get("batch_size")
    train["batch_size"] = int(recommended)
    validate_experiment(experiment_from_dict(experiment))
    if "experiment" in document:  # a flat experiment dict has no room for other keys
        document["batch_size_probe"] = {
            "batch_size": int(recommended),
            "previous": previous,
            "probe_file": str(probe_path) if probe_path is not None else None,
            "note": "the optimizer must be re-tuned at this batch size",
        }
    atomic_write(path, yaml.safe_dump(document, sort_keys=False))
    change = f"{previous} -> {recommended}" if previous is not None else f"= {recommended}"
    return (
        f"wrote train.batch_size {change} into {path}. The batch size changes the best "
        "learning rate (and most optimizer and regularisation settings): later rounds must "
        "re-tune the optimizer at this batch size; values tuned at the old size do not "
        "carry over."
    )


def _incumbent_document(path: Path, base: ExperimentConfig | None) -> dict[str, Any]:
    """The incumbent file as a mapping, or a new one made from ``base``."""
    if path.exists():
        document = read_yaml(path) or {}
        if not isinstance(document, dict) or not isinstance(
            document.get("experiment", document), dict
        ):
            raise ConfigError(str(path), "the incumbent must be a YAML mapping of sections")
        return document
    if base is None:
        raise ConfigError(str(path), "no incumbent to update and no base config to create it")
    return {"experiment": experiment_to_dict(base)}


def probe_stage(
    config: ExperimentConfig,
    probe: ProbeConfig,
    studies_dir: str | Path,
    *,
    incumbent_path: str | Path | None = None,
    echo: Callable[[str], None] = print,
    progress: Callable[[str], None] | None = None,
) -> ProbeResult:
    """What ``stage=probe`` does: probe, print the table, write the files, maybe apply.

    ``echo`` gets the report (the table, the files, the apply message); ``progress`` one
    line per size while the probe runs (default: stderr). ``probe.apply=true`` writes into
    ``incumbent_path`` (default ``studies/incumbent.yaml``; created from ``config`` when
    missing).
    """
    if progress is None:
        progress = functools.partial(print, file=sys.stderr, flush=True)
    progress(f"probing batch sizes 1..{probe.max_batch_size}")
    progress(TABLE_HEADER)
    result = run_probe(config, probe, on_point=progress)
    echo(format_table(result))
    json_path, html_path = write_probe(result, studies_dir)
    echo(f"probe files: {json_path}, {html_path} ({result.wall_seconds:.1f} s)")
    if probe.apply:
        target = incumbent_path or paths.incumbent_file(studies_dir)
        message = apply_to_incumbent(
            target, result.verdict.recommended, base=config, probe_path=json_path
        )
        echo(message)
    return result
