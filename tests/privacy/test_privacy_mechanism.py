"""The Gaussian mechanism: clipping bounds the sensitivity, and the noise has exactly the calibrated variance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chi2

from dpok_privacy.gaussian import augmented_statistic, clip_rows, sensitivity


def _data(n, d, seed, scale=1.0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale


def test_clip_rows_bounds_norms_and_keeps_small_rows():
    x = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0], [1e30, -1e30]], dtype=torch.float64)
    c = clip_rows(x, 1.0)
    assert torch.allclose(c[0], torch.tensor([0.6, 0.8], dtype=torch.float64))
    assert torch.equal(c[1], x[1]) and torch.equal(c[2], x[2])
    assert torch.linalg.vector_norm(c, dim=1).max() <= 1.0 + 1e-12


@pytest.mark.parametrize("center", [True, False])
def test_statistic_matches_numpy_blocks(center):
    x = _data(30, 5, 0, 0.2).numpy()
    b = 0.7
    t = augmented_statistic(torch.from_numpy(x), b, center).numpy()
    np.testing.assert_allclose(t[:5, :5], x.T @ x, rtol=1e-12)
    np.testing.assert_allclose(t[5, 5], b * b * 30)
    np.testing.assert_allclose(t[:5, 5], b * x.sum(0) if center else 0.0, rtol=1e-12)
    np.testing.assert_array_equal(t, t.T)


@given(n=st.integers(1, 20), d=st.integers(1, 8), seed=st.integers(0, 2**16), log_norm=st.floats(-3, 12),
       clip=st.floats(0.1, 10.0), offset=st.floats(0.1, 3.0), center=st.booleans(), k=st.integers(1, 3))
def test_one_record_moves_the_statistic_by_at_most_the_sensitivity(dp_cls, n, d, seed, log_norm, clip, offset,
                                                                     center, k):
    """Add/remove one record (k rows, some enormous): ||T(D + r) - T(D)||_F <= k Delta, before noise."""
    w = dp_cls(clip=clip, offset=offset, center=center, seed=0)
    base = _data(n, k, seed).unsqueeze(-1) * _data(1, d, seed + 1)  # [n, k, d]
    record = _data(1, k * d, seed + 2).reshape(1, k, d)
    record = record / torch.linalg.vector_norm(record, dim=-1, keepdim=True) * 10.0 ** log_norm
    change = torch.linalg.matrix_norm(w.statistic(torch.cat([base, record])) - w.statistic(base))
    bound = w.sensitivity(k)
    assert bound == pytest.approx(k * (clip**2 + (offset * clip) ** 2 if center
                                       else math.hypot(clip**2, (offset * clip) ** 2)))
    assert float(change) <= bound * (1 + 1e-9)
    if log_norm >= math.log10(clip) + 1e-6 and k == 1:  # a clipped record attains the bound exactly
        assert float(change) == pytest.approx(bound, rel=1e-9)


def test_enormous_record_changes_released_statistic_by_sensitivity_plus_noise_only(dp_cls):
    """Same seed => same noise, so the two noisy releases differ exactly by the clipped record's contribution."""
    x = _data(50, 4, 1, 0.2)
    huge = torch.full((1, 4), 1e12, dtype=torch.float64)
    a = dp_cls(epsilon=1.0, seed=7).release_covariance(x)
    b = dp_cls(epsilon=1.0, seed=7).release_covariance(torch.cat([x, huge]))
    diff = torch.linalg.matrix_norm(b.statistic - a.statistic)
    assert float(diff) == pytest.approx(dp_cls().sensitivity(1), rel=1e-9)


@pytest.mark.parametrize("center,k", [(True, 1), (False, 1), (True, 3)])
def test_noise_variance_matches_calibration(dp_cls, center, k):
    """Over many releases the noise T^ - T has variance (z Delta)^2 on the diagonal and (z Delta)^2/2 off it.

    With m iid N(0, s^2) draws, sum(x^2)/s^2 ~ chi2(m): we accept when it lies in the central 1 - 1e-6
    interval (fixed seed; a wrong sensitivity factor of sqrt(2) would be rejected with overwhelming power).
    """
    d, releases = 12, 60
    w = dp_cls(epsilon=4.0, max_epsilon=1e9, center=center, offset=0.5, clip=2.0, seed=123)
    x = _data(40, k * d, 2, 0.3).reshape(40, k, d)
    exact = w.statistic(x)
    diag, off = [], []
    iu = torch.triu_indices(d + 1, d + 1, offset=1)
    for _ in range(releases):
        noise = w.release_covariance(x).statistic - exact  # [d+1, d+1]
        assert torch.equal(noise, noise.T)
        diag.append(torch.diagonal(noise))
        off.append(noise[iu[0], iu[1]])
    s2 = w.noise_std(k) ** 2
    assert s2 == pytest.approx((w.noise_multiplier * w.sensitivity(k)) ** 2)
    for draws, var in ((torch.cat(diag), s2), (torch.cat(off), s2 / 2)):
        m = draws.numel()
        stat = float((draws**2).sum()) / var
        lo, hi = chi2.ppf(5e-7, m), chi2.ppf(1 - 5e-7, m)
        assert lo < stat < hi, (stat / m, lo / m, hi / m)
        # and zero mean: |mean| / (sd / sqrt(m)) below the 1e-6 two-sided normal quantile
        assert abs(float(draws.mean())) / math.sqrt(var / m) < 4.9
