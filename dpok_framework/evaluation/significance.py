"""Significance of held-out preference accuracies: intervals, paired tests, multiple-comparison correction.

Everything works on per-pair 0/1 correctness vectors (``1`` = the model ranks the chosen answer above the
rejected one) of pairs that are the same across the compared models, so every comparison is paired.

* :func:`bootstrap_ci`: percentile bootstrap interval of an accuracy (seeded, reproducible).
* :func:`clopper_pearson`: exact binomial interval of k/n (used where only counts are known).
* :func:`paired_bootstrap`: interval of the accuracy difference a - b, resampling pairs jointly.
* :func:`mcnemar_exact`: exact McNemar test on the discordant pairs: under H0 (equal accuracy) the number
  of pairs only ``a`` gets right is Binomial(n01 + n10, 1/2); two-sided p = min(1, 2 P(X <= min(n01, n10))).
* :func:`sign_test`: the same exact binomial test on counts of positive vs negative differences.
* :func:`holm`: Holm's step-down adjusted p-values (family-wise error control across cells).
* :func:`verdict`: plain-language conclusion from a difference and its adjusted p-value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

DEFAULT_RESAMPLES = 10_000
DEFAULT_LEVEL = 0.95


def _as01(x: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float).reshape(-1)
    if a.size == 0:
        raise ValueError(f"{name}: no pairs")
    if not np.isin(a, (0.0, 1.0)).all():
        raise ValueError(f"{name}: per-pair correctness must be 0/1")
    return a


def bootstrap_ci(correct: Sequence[float], level: float = DEFAULT_LEVEL, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``mean(correct)``: resample pairs with replacement ``resamples`` times
    (numpy ``default_rng(seed)``), take the (1-level)/2 and (1+level)/2 quantiles of the resampled means."""
    a = _as01(correct, "correct")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(resamples, a.size))  # [R, n]
    means = a[idx].mean(axis=1)                               # [R]
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], level: float = DEFAULT_LEVEL,
                     resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict[str, float]:
    """Difference ``mean(a) - mean(b)`` on the same pairs: percentile interval from resampling pair indices
    (the same index for both, keeping the pairing) and a two-sided bootstrap p-value
    ``min(1, 2 min(P*(d <= 0), P*(d >= 0)))``."""
    x, y = _as01(a, "a"), _as01(b, "b")
    if x.size != y.size:
        raise ValueError(f"paired comparison needs the same pairs: {x.size} vs {y.size} values")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))  # [R, n]
    d = x[idx].mean(axis=1) - y[idx].mean(axis=1)             # [R]
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    p = min(1.0, 2.0 * min(float((d <= 0).mean()), float((d >= 0).mean())))
    return {"diff": float(x.mean() - y.mean()), "low": float(lo), "high": float(hi), "p_value": p}


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k), X ~ Binomial(n, p), summed in log space (exact for the n of a held-out set)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
            for i in range(k + 1)]
    m = max(logs)
    return min(1.0, math.exp(m) * sum(math.exp(v - m) for v in logs))


def sign_test(n_pos: int, n_neg: int) -> float:
    """Exact two-sided binomial test of n_pos successes in n_pos + n_neg trials at p = 1/2 (ties dropped)."""
    n = n_pos + n_neg
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * _binom_cdf(min(n_pos, n_neg), n, 0.5))


@dataclass(frozen=True)
class McNemar:
    n01: int        # pairs only ``a`` gets right
    n10: int        # pairs only ``b`` gets right
    p_value: float

    def to_json(self) -> dict:
        return asdict(self)


def mcnemar_exact(a: Sequence[float], b: Sequence[float]) -> McNemar:
    """Exact McNemar test of equal accuracy of ``a`` and ``b`` on the same pairs (see module docstring)."""
    x, y = _as01(a, "a"), _as01(b, "b")
    if x.size != y.size:
        raise ValueError(f"paired comparison needs the same pairs: {x.size} vs {y.size} values")
    n01 = int(((x == 1) & (y == 0)).sum())
    n10 = int(((x == 0) & (y == 1)).sum())
    return McNemar(n01, n10, sign_test(n01, n10))


def clopper_pearson(k: int, n: int, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial proportion k/n, by bisection on the binomial CDF."""
    if not 0 <= k <= n or n <= 0:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    tail = (1 - level) / 2

    def solve(f, target: float) -> float:  # f decreasing in p on [0, 1]
        lo, hi = 0.0, 1.0
        for _ in range(100):
            mid = (lo + hi) / 2
            if f(mid) > target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    # upper: P(X <= k | p) = tail; lower by symmetry: 1 - (upper bound for the n - k failures)
    low = 0.0 if k == 0 else 1.0 - solve(lambda q: _binom_cdf(n - k, n, q), tail)
    high = 1.0 if k == n else solve(lambda p: _binom_cdf(k, n, p), tail)
    return low, high


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order: sort ascending, p_(i) * (m - i) (i from 0),
    running maximum, capped at 1."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adj = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        adj[i] = running
    return adj


def verdict(diff: float, p_adjusted: float, alpha: float = 0.05, what: str = "the baseline") -> str:
    """``better than`` / ``worse than`` / ``not distinguishable from`` ``what`` at level ``alpha``."""
    if p_adjusted < alpha and diff > 0:
        return f"better than {what} (p={p_adjusted:.3g} < {alpha:g})"
    if p_adjusted < alpha and diff < 0:
        return f"worse than {what} (p={p_adjusted:.3g} < {alpha:g})"
    return f"not distinguishable from {what} (p={p_adjusted:.3g} >= {alpha:g})"
