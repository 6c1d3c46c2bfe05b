"""The data set on the training device, converted once per worker and reused by its trials.

A worker passes the same loaded ``Split`` to every trial (its ``TrainerCache`` keeps it).
Moving it to the GPU and converting it to the run's dtype and memory layout each time
would copy the whole data set host to device per trial (CIFAR-10 in fp32: 600 MB);
instead the last conversion is kept in the caller's ``TrainCache`` and reused while the
source split object is alive and the device, dtype and layout are the same. Trials only
read the tensors (batches are gathered copies), so sharing them is safe.
"""

from __future__ import annotations

import weakref

from orchestrator.train.cache import TrainCache
from orchestrator.train.data import Split
from orchestrator.train.numerics import Numerics


def resident_split(split: Split, numerics: Numerics, cache: TrainCache) -> Split:
    """``split`` on the run's device in its data dtype and memory format, converted once."""
    key = (str(numerics.device), numerics.data_dtype, numerics.memory_format)
    with cache.lock:
        kept = cache.resident
        if kept is not None and kept[0]() is split and kept[1] == key:
            converted: Split = kept[2]
            return converted
        converted = split.to(
            numerics.device, dtype=numerics.data_dtype, memory_format=numerics.memory_format
        )
        cache.resident = (weakref.ref(split), key, converted)
        return converted
