"""Kernel unit tests: small tensors, so one intra-op thread (no OpenMP spin-waits on a busy runner)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def points():
    """``make(n, d, seed=0, scale=1.0) -> [n, d]`` float64 Gaussian points."""
    def make(n: int, d: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, d, generator=g, dtype=torch.float64) * scale
    return make
