"""The one module that knows the ``studies/`` layout (DESIGN.md, "The store")."""

from __future__ import annotations

import re
from pathlib import Path


def studies_dir(root: str | Path) -> Path:
    """The workspace root (``paths.studies``), created on first use."""
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_files(run_dir: str | Path) -> dict[str, Path]:
    """Files one ``stage=train`` run leaves in its run directory."""
    run_dir = Path(run_dir)
    return {
        "result": run_dir / "result.json",
        "config": run_dir / "experiment.yaml",
        "curves": run_dir / "curves.html",
    }


def round_dir(studies: str | Path, round_name: str) -> Path:
    """``studies/<round>/``: the round as run, its report, findings, next-round draft."""
    return Path(studies) / round_name


def findings_file(studies: str | Path, round_name: str) -> Path:
    """``studies/<round>/findings.json``: the analysis stage's findings."""
    return round_dir(studies, round_name) / "findings.json"


def next_round_file(studies: str | Path, round_name: str) -> Path:
    """``studies/<round>/next_round.yaml``: the next-round draft from the findings."""
    return round_dir(studies, round_name) / "next_round.yaml"


def report_file(studies: str | Path, round_name: str) -> Path:
    """``studies/<round>/report.html``: the round's self-contained report."""
    return round_dir(studies, round_name) / "report.html"


def incumbent_file(studies: str | Path) -> Path:
    """``studies/incumbent.yaml``: the current best full configuration."""
    return Path(studies) / "incumbent.yaml"


def artifacts_dir(studies: str | Path) -> Path:
    """``studies/artifacts/``: per-trial results with curves (Optuna artifact store)."""
    return Path(studies) / "artifacts"


def tensorboard_dir(studies: str | Path) -> Path:
    """``studies/tensorboard/``: one TensorBoard run per trial (``make tensorboard``)."""
    return Path(studies) / "tensorboard"


def history_file(studies: str | Path, round_name: str) -> Path:
    """``studies/history/<round>.yaml``: the configuration promoted by that round."""
    return Path(studies) / "history" / f"{round_name}.yaml"


def trial_dir(studies: str | Path, study_name: str, number: int) -> Path:
    """``studies/trials/<round>/<study>/<n>/``: one trial's own files (a child trainer's
    stdout, stderr and metrics; a Hydra app's output dir). Characters a file name should
    not hold become ``_``."""
    return Path(studies) / "trials" / Path(*safe_parts(study_name)) / str(number)


def trial_traceback_file(studies: str | Path, study_name: str, number: int) -> Path:
    """``<trial_dir>/traceback.txt``: a failed trial's whole traceback (its terminal line
    names the error and this file)."""
    return trial_dir(studies, study_name, number) / "traceback.txt"


def safe_parts(study_name: str) -> list[str]:
    """A study name's ``/``-separated parts as file names: characters a file name should
    not hold become ``_``, and ``.`` or ``..`` never climbs out of the folder."""
    parts = [re.sub(r"[^A-Za-z0-9._=,+-]", "_", part) for part in study_name.split("/")]
    return ["_" if part in ("", ".", "..") else part for part in parts]
