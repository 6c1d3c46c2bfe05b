"""The device copy of a worker's data set: converted once, reused while nothing changes."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from orchestrator.train.cache import TrainCache
from orchestrator.train.config import DataConfig, TrainConfig
from orchestrator.train.data import load_split
from orchestrator.train.numerics import resolve_numerics
from orchestrator.train.resident import resident_split

CPU = torch.device("cpu")


@pytest.fixture
def cache() -> TrainCache:
    return TrainCache()


def small_split():
    return load_split(DataConfig(num_examples=120, val_size=20, image_size=16))


def test_the_conversion_is_made_once_and_reused_for_the_same_split_and_numerics(cache):
    split, bf16 = small_split(), resolve_numerics(TrainConfig(precision="bf16"), CPU)
    first = resident_split(split, bf16, cache)
    assert first.x_train.dtype == first.x_val.dtype == torch.bfloat16
    assert first.y_train.dtype == torch.int64  # labels are never converted
    assert torch.equal(first.x_train, split.x_train.to(torch.bfloat16))
    assert resident_split(split, bf16, cache) is first  # the next trial: no copy


def test_another_dtype_or_another_split_object_converts_again(cache):
    split = small_split()
    bf16 = resident_split(split, resolve_numerics(TrainConfig(precision="bf16"), CPU), cache)
    fp32 = resident_split(split, resolve_numerics(TrainConfig(precision="fp32"), CPU), cache)
    assert fp32 is not bf16 and fp32.x_train.dtype == torch.float32
    other = small_split()  # equal values, but another object: it may have changed meanwhile
    assert resident_split(other, resolve_numerics(TrainConfig(), CPU), cache) is not fp32


def test_the_kept_copy_does_not_keep_its_source_alive(cache):
    split = small_split()
    resident_split(split, resolve_numerics(TrainConfig(precision="bf16"), CPU), cache)
    ref = weakref.ref(split)
    del split
    gc.collect()
    assert ref() is None
