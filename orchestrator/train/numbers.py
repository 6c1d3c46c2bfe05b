"""What counts as a number in a config, a stored attribute or a curve: one rule for all.

``bool`` is a subclass of ``int`` in Python, so ``isinstance(True, int)`` holds: a ``true``
typed where a number belongs (a YAML slip, a JSON attribute) would pass as 1. Every check
of "a real number" goes through these functions so that none of them forgets the bool.
They live at the bottom of the layers (imported by config, rounds, analysis, report) and
import nothing heavy.
"""

from __future__ import annotations

import math
from typing import TypeGuard


def is_real(value: object) -> TypeGuard[int | float]:
    """An int or a float, not a bool (numpy scalars are not: stored values are plain)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_finite(value: object) -> TypeGuard[int | float]:
    """A real number that is neither infinite nor NaN: one that has a place on an axis."""
    return is_real(value) and math.isfinite(value)


def is_whole(value: object) -> TypeGuard[int]:
    """An int, not a bool: a count, an index, a size."""
    return isinstance(value, int) and not isinstance(value, bool)
