"""Synthetic evidence with a known right answer (seeded, small)."""

from __future__ import annotations

import math

import torch


def local_boundary_triplets(n: int = 300, d: int = 16, seed: int = 0):
    """Chosen completions lie in a small ball around the prompt; rejected ones on the prompt's own ray,
    scaled by 0.4-0.6 or 1.5-2.0.  Cosine similarity (and any function of it) cannot separate them and the
    inner product prefers the longer rejected half the time: only a local, distance-based (shift-invariant)
    kernel orders the triplets correctly."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    pos = x + 0.1 * torch.randn(n, d, generator=g)
    short = torch.rand(n, generator=g) < 0.5
    scale = torch.where(short, 0.4 + 0.2 * torch.rand(n, generator=g), 1.5 + 0.5 * torch.rand(n, generator=g))
    neg = x * scale[:, None] + 0.02 * torch.randn(n, d, generator=g)
    return x, pos, neg


def heavy_tailed_drift(m: int = 200, v: int = 40, seed: int = 0):
    """q = softmax(z); p = softmax(z + tau_i * xi) with a heavy-tailed drift size tau_i ~ 0.3 |Cauchy|:
    most pairs barely drift, a few drift enormously (heavy-tailed log-ratios)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(m, v, generator=g, dtype=torch.float64)
    tau = 0.3 * torch.tan(math.pi * (torch.rand(m, generator=g, dtype=torch.float64) - 0.5)).abs()  # |Cauchy|
    logq = torch.log_softmax(z, -1)
    logp = torch.log_softmax(z + tau[:, None] * torch.randn(m, v, generator=g, dtype=torch.float64), -1)
    return logp, logq


def light_drift(m: int = 200, v: int = 40, seed: int = 0, scale: float = 0.3):
    """q = softmax(z); p = softmax(z + 0.3 xi): small Gaussian drift, full overlap."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(m, v, generator=g, dtype=torch.float64)
    return (torch.log_softmax(z + scale * torch.randn(m, v, generator=g, dtype=torch.float64), -1),
            torch.log_softmax(z, -1))


def disjoint_supports(m: int = 60, v: int = 20, seed: int = 0):
    """p lives on the first half of the outcomes, q on the second half: supports do not meet."""
    g = torch.Generator().manual_seed(seed)
    logp = torch.full((m, v), -math.inf, dtype=torch.float64)
    logq = torch.full((m, v), -math.inf, dtype=torch.float64)
    logp[:, : v // 2] = torch.log_softmax(torch.randn(m, v // 2, generator=g, dtype=torch.float64), -1)
    logq[:, v // 2:] = torch.log_softmax(torch.randn(m, v - v // 2, generator=g, dtype=torch.float64), -1)
    return logp, logq
