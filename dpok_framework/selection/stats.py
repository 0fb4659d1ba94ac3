"""Small numerical helpers shared by the selection evidence (float64, no candidate names)."""

from __future__ import annotations

import math

import torch


def canonical_order(*tensors: torch.Tensor, seed: int) -> torch.Tensor:
    """``[N]`` permutation sorting rows by a seeded random projection of their content.

    Rows are the concatenation of the given ``[N, *]`` tensors.  Any subsampling or pairing done in
    this order depends only on the *set* of rows (and the seed), never on the order they came in, which
    makes the approximate metrics exactly invariant to permutations of the pairs.
    """
    g = torch.Generator().manual_seed(int(seed))
    key = torch.zeros(tensors[0].shape[0], dtype=torch.float64)
    for t in tensors:
        flat = t.detach().reshape(t.shape[0], -1)
        w = torch.randn(flat.shape[1], dtype=torch.float64, generator=g)  # [F]
        if not math.isfinite(float(flat.sum())) and not bool(torch.isfinite(flat).all()):  # e.g. -inf log-probs
            flat = torch.nan_to_num(flat, nan=0.0, posinf=1e6, neginf=-1e6)
        key = key + (flat @ w.to(flat.dtype)).to(torch.float64)  # [N]
    return torch.argsort(key, stable=True)


def nonfinite_rows(t: torch.Tensor) -> torch.Tensor:
    """``[N]`` bool: rows of ``t [N, d]`` holding a NaN/inf.  Screens with row sums (one pass, cheap on
    100k x 768 inputs) and checks elementwise only rows whose sum is not finite (a sum can overflow)."""
    suspect = ~torch.isfinite(t.sum(-1))  # [N]
    if bool(suspect.any()):
        suspect[suspect.clone()] = ~torch.isfinite(t[suspect]).all(-1)
    return suspect


def moments(x: torch.Tensor) -> tuple[float, float]:
    """(mean, population variance) of a 1-D tensor in float64."""
    x = x.to(torch.float64)
    m = float(x.mean())
    return m, float(((x - m) ** 2).mean())


def variance_se(x: torch.Tensor) -> tuple[float, float]:
    """Unbiased variance of ``x`` and its standard error sqrt((mu4 - s^4 (n-3)/(n-1)) / n)."""
    x = x.to(torch.float64)
    n = x.numel()
    c = x - x.mean()
    s2 = float((c * c).sum() / max(n - 1, 1))
    mu4 = float((c ** 4).mean())
    se = math.sqrt(max(mu4 - s2 * s2 * (n - 3) / max(n - 1, 1), 0.0) / max(n, 1))
    return s2, se


def excess_kurtosis(x: torch.Tensor, weights: torch.Tensor | None = None) -> float:
    """Moment excess kurtosis m4 / m2^2 - 3 (optionally weighted); ``nan`` if the variance is 0."""
    x = x.to(torch.float64)
    w = torch.full_like(x, 1.0 / max(x.numel(), 1)) if weights is None else weights.to(torch.float64)
    w = w / w.sum()
    mean = (w * x).sum()
    c = x - mean
    m2 = float((w * c * c).sum())
    if not m2 > 1e-300 or not math.isfinite(m2):
        return math.nan
    m4 = float((w * c ** 4).sum())
    return m4 / (m2 * m2) - 3.0


def row_quantile(x: torch.Tensor, q: float) -> float:
    """Quantile of a 1-D float tensor (linear interpolation, numpy's default)."""
    return float(torch.quantile(x.to(torch.float64), q))
