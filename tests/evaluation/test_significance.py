"""Sweep statistics against hand-computed values and scipy's exact binomial test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from dpok_framework.evaluation import significance as stats


def test_bootstrap_ci_is_the_seeded_percentile_interval():
    x = np.array([1, 0, 1, 1, 0], dtype=float)
    lo, hi = stats.bootstrap_ci(x, level=0.8, resamples=200, seed=3)
    # by hand: the same draws, the resampled means, their 10% / 90% quantiles
    idx = np.random.default_rng(3).integers(0, 5, size=(200, 5))
    means = x[idx].mean(axis=1)
    assert (lo, hi) == (np.quantile(means, 0.1), np.quantile(means, 0.9))
    assert stats.bootstrap_ci(x, 0.8, 200, seed=3) == (lo, hi)  # reproducible
    assert stats.bootstrap_ci(np.ones(7)) == (1.0, 1.0)
    # width close to the normal approximation 2 * 1.96 * sqrt(p (1 - p) / n) for a large n
    y = (np.arange(400) % 5 < 3).astype(float)  # p = 0.6
    lo, hi = stats.bootstrap_ci(y, resamples=4000, seed=0)
    assert hi - lo == pytest.approx(2 * 1.96 * np.sqrt(0.24 / 400), abs=0.006)
    assert lo < 0.6 < hi
    with pytest.raises(ValueError, match="0/1"):
        stats.bootstrap_ci([0.5, 1.0])


@pytest.mark.parametrize("n01,n10", [(0, 0), (3, 0), (7, 2), (12, 13), (30, 11), (1, 40)])
def test_mcnemar_exact_equals_scipy_binomtest(n01, n10):
    a = np.array([1] * n01 + [0] * n10 + [1] * 5 + [0] * 4, dtype=float)
    b = np.array([0] * n01 + [1] * n10 + [1] * 5 + [0] * 4, dtype=float)
    res = stats.mcnemar_exact(a, b)
    assert (res.n01, res.n10) == (n01, n10)
    expected = 1.0 if n01 + n10 == 0 else binomtest(min(n01, n10), n01 + n10, 0.5).pvalue
    assert res.p_value == pytest.approx(expected, rel=1e-10)


def test_mcnemar_by_hand():
    # 8 discordant pairs, 1 vs 7: p = 2 * (C(8,0) + C(8,1)) / 2^8 = 18 / 256
    a = [1, 1, 1, 1, 1, 1, 1, 0, 1, 0]
    b = [0, 0, 0, 0, 0, 0, 0, 1, 1, 0]
    assert stats.mcnemar_exact(a, b).p_value == pytest.approx(18 / 256, rel=1e-12)


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (26, 40), (61, 120)])
def test_clopper_pearson_equals_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    lo, hi = stats.clopper_pearson(k, n)
    assert lo == pytest.approx(ci.low, abs=1e-9) and hi == pytest.approx(ci.high, abs=1e-9)


def test_holm_by_hand():
    # sorted 0.01 (x4 = 0.04), 0.03 (x3 = 0.09), 0.04 (x2 = 0.08 -> running max 0.09), 0.20 (x1)
    assert stats.holm([0.01, 0.04, 0.03, 0.20]) == pytest.approx([0.04, 0.09, 0.09, 0.20])
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_paired_bootstrap_keeps_the_pairing():
    a = np.array([1, 1, 0, 1, 0, 1, 1, 1], dtype=float)
    b = np.array([1, 0, 0, 1, 0, 0, 1, 0], dtype=float)
    res = stats.paired_bootstrap(a, b, resamples=500, seed=1)
    assert res["diff"] == pytest.approx(0.375)
    idx = np.random.default_rng(1).integers(0, 8, size=(500, 8))
    d = a[idx].mean(1) - b[idx].mean(1)
    assert res["low"] == np.quantile(d, 0.025) and res["high"] == np.quantile(d, 0.975)
    assert res["low"] >= 0  # a is never worse than b on any pair: no resample can favour b
    same = stats.paired_bootstrap(a, a, resamples=100)
    assert same["diff"] == 0 and same["p_value"] == 1.0
    with pytest.raises(ValueError, match="same pairs"):
        stats.paired_bootstrap(a, b[:4])


def test_verdict_words():
    assert stats.verdict(0.1, 0.01).startswith("better than")
    assert stats.verdict(-0.1, 0.01).startswith("worse than")
    assert stats.verdict(0.1, 0.2).startswith("not distinguishable")
