"""The released mean/covariance: converges to the exact one as epsilon grows, and is always SPD."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dpok_framework.errors import DataError


def _aniso(n=4000, seed=0):
    g = torch.Generator().manual_seed(seed)
    scales = torch.tensor([0.30, 0.20, 0.15, 0.10, 0.05], dtype=torch.float64)
    x = torch.randn(n, 5, generator=g, dtype=torch.float64) * scales + torch.tensor([0.2, -0.1, 0, 0, 0.1],
                                                                                     dtype=torch.float64)
    rot, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
    x = x @ rot
    assert torch.linalg.vector_norm(x, dim=1).max() < 2.0  # inside the clip ball: nothing is clipped
    return x


def test_release_converges_to_exact_covariance_as_epsilon_grows(dp_cls):
    x = _aniso()
    exact_cov = np.cov(x.numpy().T, bias=True)
    exact_mean = x.numpy().mean(0)
    errors = []
    for eps in (1.0, 10.0, 100.0, 1e4, 1e6):
        w = dp_cls(epsilon=eps, delta=1e-6, clip=2.0, shrinkage=0.0, seed=5)
        rel = w.release_covariance(x)
        errors.append(np.linalg.norm(rel.cov.numpy() - exact_cov))
        mean_err = np.linalg.norm(rel.mean.numpy() - exact_mean)
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    # tolerance: the noise on each entry of T/N has std sigma/N; allow 10 sigma/N per entry (d = 5)
    tol = 10 * w.noise_std() / len(x)
    assert tol < 1e-3 * np.abs(exact_cov).max()  # the bound itself is tight: 0.1% of the largest entry
    np.testing.assert_allclose(rel.cov.numpy(), exact_cov, rtol=0, atol=tol)
    assert mean_err < tol


def test_default_shrinkage_converges_to_the_shrunk_exact_covariance(dp_cls):
    x = _aniso(seed=1)
    s = np.cov(x.numpy().T, bias=True)
    lam = 0.05
    target = (1 - lam) * s + lam * np.trace(s) / 5 * np.eye(5)
    w = dp_cls(epsilon=1e6, delta=1e-6, clip=2.0, shrinkage=lam, seed=0)
    rel = w.release_covariance(x)
    np.testing.assert_allclose(rel.cov.numpy(), target, rtol=0, atol=10 * w.noise_std() / len(x))


def test_uncentred_release_is_the_second_moment_without_mean(dp_cls):
    x = _aniso(seed=2)
    w = dp_cls(epsilon=1e6, delta=1e-6, clip=2.0, shrinkage=0.0, center=False, seed=0)
    rel = w.release_covariance(x)
    assert rel.mean is None
    np.testing.assert_allclose(rel.cov.numpy(), x.numpy().T @ x.numpy() / len(x), rtol=0,
                               atol=10 * w.noise_std() / len(x))


def test_record_groups_count_rows(dp_cls):
    x = _aniso(seed=3)[:3000].reshape(1000, 3, 5)
    rel = dp_cls(epsilon=1e4, delta=1e-6, clip=2.0, seed=0).release_covariance(x)
    assert rel.noisy_count == pytest.approx(3000, abs=0.1)


@given(n=st.integers(1, 30), d=st.integers(1, 10), seed=st.integers(0, 2**16), log_scale=st.floats(-4, 4),
       epsilon=st.sampled_from([0.05, 1.0, 50.0]), center=st.booleans(), shrinkage=st.sampled_from([0.0, 0.05, 1.0]),
       kind=st.sampled_from(["gauss", "constant", "rank1", "zeros"]))
def test_release_is_always_symmetric_positive_definite(dp_cls, n, d, seed, log_scale, epsilon, center, shrinkage,
                                                       kind):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g) * 10.0 ** log_scale
    if kind == "constant":
        x = x[:1].expand(n, d)
    elif kind == "rank1":
        x = torch.randn(n, 1, generator=g) * torch.randn(1, d, generator=g) * 10.0 ** log_scale
    elif kind == "zeros":
        x = torch.zeros(n, d)
    w = dp_cls(epsilon=epsilon, delta=1e-6, center=center, shrinkage=shrinkage, seed=seed)
    rel = w.release_covariance(x)
    cov = rel.cov.double()
    assert cov.shape == (d, d) and rel.cov.dtype == torch.float32
    assert torch.equal(cov, cov.T)
    evals = torch.linalg.eigvalsh(cov)
    floor = w.params.eig_floor * w.params.clip ** 2 / d
    slack = 4 * d * torch.finfo(torch.float32).eps * w.params.clip ** 2  # float32 rounding of the output
    assert float(evals.min()) >= floor - slack
    assert float(evals.max()) <= w.params.clip ** 2 + slack
    torch.linalg.cholesky(cov)  # invertible, numerically
    assert torch.isfinite(torch.linalg.inv(cov)).all()
    if center:
        assert float(torch.linalg.vector_norm(rel.mean)) <= w.params.clip * (1 + 1e-6)
    else:
        assert rel.mean is None


def test_noise_comes_from_a_private_generator_unless_seeded(dp_cls):
    x = _aniso(n=50)
    torch.manual_seed(0)
    a = dp_cls(epsilon=1.0).release_covariance(x).statistic
    torch.manual_seed(0)
    b = dp_cls(epsilon=1.0).release_covariance(x).statistic
    assert not torch.equal(a, b)  # the training seed must not make the noise predictable
    c = dp_cls(epsilon=1.0, seed=3).release_covariance(x).statistic
    d = dp_cls(epsilon=1.0, seed=3).release_covariance(x).statistic
    assert torch.equal(c, d)


def test_float64_input_gives_float64_release(dp_cls):
    rel = dp_cls(seed=0).release_covariance(_aniso(n=100))
    assert rel.cov.dtype == torch.float64 and rel.mean.dtype == torch.float64


@pytest.mark.parametrize("bad,match", [
    (torch.zeros(5), r"non-empty \[N, d\].*got shape \(5,\)"),
    (torch.zeros(0, 3), r"got shape \(0, 3\)"),
    (torch.tensor([[0.0, 1.0], [float("nan"), 0.0]]), "record 1 has a NaN/inf"),
    (torch.tensor([[[0.0, 1.0], [0.0, 0.0]], [[0.0, 1.0], [float("inf"), 0.0]]]), "record 1 has a NaN/inf"),
])
def test_bad_embeddings_are_rejected_without_charging(dp_cls, bad, match):
    w = dp_cls(seed=0)
    with pytest.raises(DataError, match=match):
        w.release_covariance(bad)
    assert w.spent() == (0.0, 0.0)
