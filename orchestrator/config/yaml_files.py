"""YAML files read safely, and a YAML error told as one line: the file, the line, the rule.

Config files hold plain values only. A YAML tag such as ``!!python/object/apply`` (which
would run code under an unsafe loader) or a syntax error is refused by the safe loaders
Hydra and this package use; left alone, that refusal is a 30-line traceback. Here it is
``<file> line <n>: <rule>``, the same for a round file Hydra composes (``cli.py``) and a
file the orchestrator reads itself (the incumbent, a probe's result).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from orchestrator.exceptions import ConfigFileError

_TAG = re.compile(r"tag '(?:tag:yaml\.org,2002:)?([^']+)'")


def yaml_error_line(err: yaml.YAMLError, path: str | Path | None = None) -> str:
    """``<file> line <n>: <rule>`` for a YAML error (the file from the error when known)."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = str(path) if path is not None else (mark.name if mark is not None else "<yaml>")
    line = f" line {mark.line + 1}" if mark is not None else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    tag = _TAG.search(problem)
    if tag:
        rule = (
            f"YAML tags such as !!{tag.group(1)} are not allowed (a config holds plain values: "
            "numbers, text, lists, mappings)"
        )
    else:
        rule = f"not valid YAML: {problem}"
    return f"{where}{line}: {rule}"


def yaml_error_in(err: BaseException) -> yaml.YAMLError | None:
    """The YAML error behind ``err`` (itself, its cause or context), if any."""
    seen: BaseException | None = err
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, yaml.YAMLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def read_yaml(path: str | Path) -> Any:
    """The plain data in ``path``; one ``ConfigFileError`` naming the file and line if not."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        raise ConfigFileError(yaml_error_line(err, path)) from None
