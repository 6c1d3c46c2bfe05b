"""A decorator kept apart from the app it wraps (as the template's ``utils.task_wrapper``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def task_wrapper(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapped(cfg: Any) -> Any:
        return fn(cfg)

    return wrapped
