"""Shared fixtures (helpers live in ``tests/support/``)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """fit(train.threads=N) sets torch's global thread count; keep tests independent."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
