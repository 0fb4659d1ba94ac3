"""Continuous power-law tail fit: maximum likelihood exponent, x_min chosen by Kolmogorov-Smirnov distance.

Clauset, Shalizi & Newman (2009), "Power-law distributions in empirical data", sections 3.1 and 3.3.
For samples x_1..x_n >= x_min from the density p(x) = (alpha - 1) / x_min * (x / x_min)^(-alpha):

    alpha_hat(x_min) = 1 + n / sum_i ln(x_i / x_min)              (MLE)
    sigma(alpha_hat) = (alpha_hat - 1) / sqrt(n)                  (asymptotic standard error)
    D(x_min)         = max_{x >= x_min} |S(x) - P(x)|             (KS distance of the tail)

with S the empirical CDF of the tail and P(x) = 1 - (x / x_min)^(1 - alpha_hat). x_min is the candidate
(every distinct sample value that leaves at least ``min_tail`` points) with the smallest D.

``ks="two_sided"`` (default) compares P with both steps of S at each sample (the KS statistic
``scipy.stats.kstest`` reports); ``ks="lower"`` only with the step below, D = max_i |P(x_i) - i/n|, which is
WeightWatcher 0.7.7's statistic (``WW_powerlaw.WWFit``), used by HT-SR so its alpha is WeightWatcher's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class PowerLawFit:
    alpha: float     # tail exponent of the density, p(x) ~ x^-alpha
    xmin: float      # lower cut-off of the fitted tail
    ks: float        # Kolmogorov-Smirnov distance between the tail and the fitted law
    n_tail: int      # samples >= xmin
    n: int           # samples used (positive, finite)
    sigma: float     # asymptotic standard error of alpha

    def to_json(self) -> dict:
        return asdict(self)


def power_law_mle(x: np.ndarray, xmin: float) -> float:
    """alpha_hat = 1 + n / sum ln(x_i / xmin) over the samples x_i >= xmin."""
    x = np.asarray(x, dtype=np.float64)
    if not xmin > 0:
        raise ValueError(f"xmin must be > 0, got {xmin}")
    tail = x[x >= xmin]
    s = np.log(tail / xmin).sum()
    if tail.size == 0 or s <= 0:
        raise ValueError(f"no spread above xmin={xmin}: the MLE needs at least two distinct values >= xmin")
    return float(1.0 + tail.size / s)


def fit_power_law(x: np.ndarray, min_tail: int = 10, xmax: float | None = None, chunk: int = 512,
                  ks: Literal["two_sided", "lower"] = "two_sided") -> PowerLawFit:
    """Fit p(x) ~ x^-alpha to the upper tail of ``x`` (1-D, positive values; others are dropped).

    Every distinct value leaving >= ``min_tail`` samples (all of them if fewer exist) is tried as x_min;
    the one with the smallest KS distance (``ks``: see the module docstring) wins. ``xmax`` drops samples
    above it (default: keep all).
    Vectorised over candidates in chunks of ``chunk`` rows, O(n^2) work, O(chunk * n) memory.
    """
    if ks not in ("two_sided", "lower"):
        raise ValueError(f"ks must be 'two_sided' or 'lower', got {ks!r}")
    x = np.asarray(x, dtype=np.float64).ravel()
    x = x[np.isfinite(x) & (x > 0)]
    if xmax is not None:
        x = x[x <= xmax]
    n = x.size
    if n < 2:
        raise ValueError(f"a power-law fit needs at least 2 positive finite values, got {n}")
    x = np.sort(x)  # ascending
    logx = np.log(x)
    # suffix sums of ln x: suffix[i] = sum_{j >= i} ln x_j
    suffix = np.concatenate([np.cumsum(logx[::-1])[::-1], [0.0]])
    min_tail = max(2, min(int(min_tail), n))
    # candidates: first occurrence of each distinct value, leaving >= min_tail samples
    first = np.flatnonzero(np.concatenate([[True], x[1:] != x[:-1]]))
    cand = first[(n - first) >= min_tail]
    if cand.size == 0:
        cand = np.array([0])
    n_tail = (n - cand).astype(np.float64)                          # [C]
    s = suffix[cand] - n_tail * logx[cand]                          # [C] sum ln(x_j / xmin)
    valid = s > 0
    alpha = np.where(valid, 1.0 + n_tail / np.where(valid, s, 1.0), np.nan)  # [C]

    dist = np.full(cand.size, np.inf)  # KS distance per candidate
    idx = np.arange(n)
    for lo in range(0, cand.size, chunk):
        c = cand[lo:lo + chunk]                                     # [c]
        a = alpha[lo:lo + chunk]                                    # [c]
        nt = n_tail[lo:lo + chunk]                                  # [c]
        k = idx[None, :] - c[:, None]                               # [c, n] rank inside the tail
        in_tail = k >= 0
        # theoretical CDF P(x_j) = 1 - exp((1 - alpha) * (ln x_j - ln xmin)) on the tail
        dlog = np.where(in_tail, logx[None, :] - logx[c][:, None], 0.0)   # [c, n]
        cdf = -np.expm1((1.0 - np.nan_to_num(a, nan=2.0))[:, None] * dlog)  # [c, n]
        # empirical CDF just below and at x_j (ties: use the upper step, as for distinct data)
        lo_step = k / nt[:, None]
        hi_step = (k + 1) / nt[:, None]
        d = np.abs(cdf - lo_step) if ks == "lower" else np.maximum(np.abs(cdf - lo_step), np.abs(hi_step - cdf))
        d = np.where(in_tail, d, 0.0).max(axis=1)                   # [c]
        dist[lo:lo + chunk] = np.where(np.isfinite(a), d, np.inf)
    if not np.isfinite(dist).any():
        raise ValueError("power-law fit failed: every candidate x_min leaves a tail with no spread")
    best = int(np.argmin(dist))
    a_best = float(alpha[best])
    nt_best = int(n_tail[best])
    return PowerLawFit(alpha=a_best, xmin=float(x[cand[best]]), ks=float(dist[best]), n_tail=nt_best, n=n,
                       sigma=(a_best - 1.0) / math.sqrt(nt_best))


def sample_power_law(n: int, alpha: float, xmin: float = 1.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """Inverse-CDF draws from p(x) = (alpha - 1)/xmin (x/xmin)^-alpha, x >= xmin (alpha > 1)."""
    if alpha <= 1:
        raise ValueError(f"alpha must be > 1 for a normalisable power law, got {alpha}")
    rng = rng or np.random.default_rng()
    u = rng.random(n)
    return xmin * (1.0 - u) ** (-1.0 / (alpha - 1.0))
