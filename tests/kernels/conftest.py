"""Kernel unit-test fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def points():
    """``make(n, d, seed=0, scale=1.0) -> [n, d]`` float64 Gaussian points."""
    def make(n: int, d: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, d, generator=g, dtype=torch.float64) * scale
    return make
