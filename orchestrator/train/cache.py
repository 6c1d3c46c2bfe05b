"""What ``fit`` keeps between runs in one process, in one object its caller owns.

A worker runs many trials; two things are worth keeping between them: which compiled
graphs were already warmed up (``compiled.py``) and the data set's copy on the device in
the run's dtype and layout (``resident.py``). Both live here, in a ``TrainCache`` the
caller passes to ``fit`` (a worker's ``TrainerCache`` holds one), instead of in module
globals: what a worker holds is then one object anybody can inspect, and a plain ``fit``
call without one keeps nothing. Imports no torch, so holding one costs nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CompileStats:
    """How often a run found its key compiled already (hit) or compiled it (miss)."""

    hits: int = 0
    misses: int = 0


@dataclass
class TrainCache:
    """The compiled keys (with hit/miss counts) and the last resident data copy."""

    compiled: set[str] = field(default_factory=set)
    compile_stats: CompileStats = field(default_factory=CompileStats)
    # (weak reference to the source split, (device, dtype, layout), the converted split)
    resident: tuple[Any, Any, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
