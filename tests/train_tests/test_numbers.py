"""The one rule for "a real number": ints and floats count, bools never do."""

from __future__ import annotations

import math

import pytest

from orchestrator.train.numbers import is_finite, is_real, is_whole


@pytest.mark.parametrize("value", [0, 3, -2.5, 1e300, math.inf, math.nan])
def test_ints_and_floats_are_real(value: object) -> None:
    assert is_real(value)


@pytest.mark.parametrize("value", [True, False, "1", None, [1], 1j])
def test_bools_and_others_are_not_real(value: object) -> None:
    assert not is_real(value)


def test_finite_drops_inf_and_nan_and_bools() -> None:
    assert is_finite(2) and is_finite(-0.5)
    assert not any(is_finite(v) for v in (math.inf, -math.inf, math.nan, True, "2"))


def test_whole_is_an_int_not_a_bool_nor_a_float() -> None:
    assert is_whole(4) and is_whole(-1)
    assert not any(is_whole(v) for v in (True, 4.0, "4", None))
