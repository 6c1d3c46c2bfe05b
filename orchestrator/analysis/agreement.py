"""The value a negligible param is fixed at: the one its studies agree on, if they do.

Apart from the draft (``next_round.py``) because it is a rule of its own, on the param's
range and scale, tested apart and read where the draft fixes a param.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from orchestrator.analysis.advice import readable_accepted
from orchestrator.train.numbers import is_real

AGREEMENT = 0.1  # studies' best values within this fraction of the range (own scale) agree


def agreed_value(spec: Any, values: list[Any], path: str) -> Any:
    """The value to fix a param at: the studies' median best value when they lie within
    ``AGREEMENT`` of the range of each other (one study: its own), else None."""
    if len(values) == 1:
        return values[0]
    log = isinstance(spec, dict) and bool(spec.get("log"))
    if isinstance(spec, dict) and "low" in spec and all(_number(v, log) for v in values):
        scale = math.log10 if log else float
        low, high = scale(spec["low"]), scale(spec["high"])
        where = sorted((scale(v) - low) / (high - low) for v in values)
        if where[-1] - where[0] > AGREEMENT:
            return None
        return readable_accepted(path, statistics.median_low(values))
    return values[0] if all(v == values[0] for v in values) else None


def _number(value: Any, log: bool) -> bool:
    number = is_real(value)
    return number and (value > 0 or not log)
