"""Mahalanobis kernel: shrinkage covariance (Ledoit-Wolf as in scikit-learn), set_covariance contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.covariance import ledoit_wolf

from dpok_kernels._covariance import ledoit_wolf_shrinkage, shrunk_covariance
from dpok_kernels.mahalanobis import MahalanobisKernel


def _correlated(points, n, d, seed=0):
    a = points(d, d, seed + 100) / d**0.5 + torch.eye(d, dtype=torch.float64)
    return points(n, d, seed) @ a.T + 3.0  # [n, d], non-zero mean, correlated


@pytest.mark.parametrize("n,d", [(200, 5), (20, 40), (3, 8)])
def test_ledoit_wolf_matches_sklearn(points, n, d):
    e = _correlated(points, n, d)
    cov, mean, delta = shrunk_covariance(e, "ledoit_wolf")
    ref_cov, ref_delta = ledoit_wolf(e.numpy())
    assert delta == pytest.approx(ref_delta, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(cov.numpy(), ref_cov, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(mean, e.mean(0))


def test_fixed_shrinkage_formula(points):
    e = _correlated(points, 30, 4)
    cov, _, delta = shrunk_covariance(e, 0.25)
    s = np.cov(e.numpy().T, bias=True)
    mu = np.trace(s) / 4
    np.testing.assert_allclose(cov.numpy(), 0.75 * s + 0.25 * mu * np.eye(4), rtol=1e-12)
    assert delta == 0.25
    assert 0.0 <= ledoit_wolf_shrinkage(e - e.mean(0)) <= 1.0


def test_fit_is_invertible_when_n_below_d(points):
    e = _correlated(points, 10, 64)
    k = MahalanobisKernel().fit(e)  # Ledoit-Wolf: S = (1-delta) S_hat + delta mu I, full rank
    assert 0.0 < k.shrinkage_used <= 1.0
    assert float(torch.linalg.eigvalsh(k.covariance())[0]) > 0
    lp = k.log_paired(e[:5], e[5:])
    assert bool(torch.isfinite(lp).all())
    # even with shrinkage 0 (a rank-9 S) the relative jitter keeps the Cholesky factor defined
    k0 = MahalanobisKernel(shrinkage=0.0).fit(e)
    assert bool(torch.isfinite(k0.log_paired(e[:5], e[5:])).all())


def test_identical_embeddings_fall_back_to_identity():
    k = MahalanobisKernel().fit(torch.ones(4, 3))
    torch.testing.assert_close(k.covariance(), torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-5)


def test_set_covariance_is_used_as_is_and_fit_keeps_it(points):
    cov = torch.tensor([[2.0, 0.3, 0.0], [0.3, 1.0, 0.1], [0.0, 0.1, 0.5]], dtype=torch.float64)
    k = MahalanobisKernel().set_covariance(cov, mean=torch.zeros(3))
    assert k.covariance_fixed
    torch.testing.assert_close(k.covariance(), cov, rtol=1e-14, atol=1e-14)  # no jitter needed: exact
    k.fit(points(50, 3, 1, scale=10.0))  # a fit must not overwrite a (DP) covariance
    torch.testing.assert_close(k.covariance(), cov, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(k.mean, torch.zeros(3, dtype=torch.float64))
    # fit first, then a release without a mean: the data mean from fit() is dropped, not checkpointed
    k2 = MahalanobisKernel().fit(points(50, 3, 1, scale=10.0)).set_covariance(cov)
    assert k2.mean is None and "mean" not in k2.state_dict()
    fresh = MahalanobisKernel().fit(points(20, 3, 5))
    fresh.load_state_dict(k2.state_dict())
    assert fresh.mean is None and fresh.covariance_fixed
    x, y = points(4, 3, 2), points(4, 3, 3)
    diff = (x - y).numpy()
    expect = -0.5 * np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov.numpy()), diff)
    np.testing.assert_allclose(k.log_paired(x, y).numpy(), expect, rtol=1e-12)


def test_set_covariance_symmetrises_and_rejects_non_covariances():
    k = MahalanobisKernel()
    a = torch.tensor([[1.0, 0.2], [0.0, 1.0]], dtype=torch.float64)  # asymmetric: symmetrised
    k.set_covariance(a)
    torch.testing.assert_close(k.covariance(), torch.tensor([[1.0, 0.1], [0.1, 1.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="not positive definite"):
        k.set_covariance(torch.tensor([[1.0, 0.0], [0.0, -0.5]]))
    with pytest.raises(ValueError, match="square"):
        k.set_covariance(torch.ones(2, 3))
    with pytest.raises(ValueError, match="NaN"):
        k.set_covariance(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="mean must have shape"):
        k.set_covariance(torch.eye(2), mean=torch.zeros(3))
    # a PSD but singular release gets only the tiny jitter it needs
    singular = torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    k.set_covariance(singular)
    assert float((k.covariance() - singular).abs().max()) < 1e-4


def test_dimension_mismatch_and_unfitted_errors(points):
    with pytest.raises(RuntimeError, match="fit\\(embeddings\\) or kernel.set_covariance"):
        MahalanobisKernel().log_paired(points(2, 3), points(2, 3))
    k = MahalanobisKernel().fit(points(20, 3))
    with pytest.raises(ValueError, match="d=5"):
        k.log_paired(points(2, 5), points(2, 5))
    k2 = MahalanobisKernel().set_covariance(torch.eye(3))
    with pytest.raises(ValueError, match="d=4"):
        k2.fit(points(10, 4))


def test_median_bandwidth_and_frequencies(points):
    e = _correlated(points, 300, 3)
    k = MahalanobisKernel(bandwidth="median").fit(e)
    h = float(k.log_bandwidth.exp())
    z = k.whiten(e)
    from scipy.spatial.distance import pdist
    assert h == pytest.approx(float(np.median(pdist(z.numpy()))), rel=1e-10)
    # omega ~ N(0, S^-1 / h^2): the empirical second moment of many draws matches
    omega, k0 = k.sample_frequencies(200_000, 3, torch.Generator().manual_seed(0))
    assert k0 == 1.0
    target = torch.linalg.inv(k.covariance()) / h**2
    emp = omega.T @ omega / omega.shape[0]
    torch.testing.assert_close(emp, target, rtol=0.03, atol=0.03 * float(target.abs().max()))


def test_float32_inputs_and_gradcheck(points):
    e = _correlated(points, 40, 4)
    k = MahalanobisKernel().fit(e)
    x, y = points(3, 4, 1), points(3, 4, 2)
    assert k.log_paired(x.float(), y.float()).dtype == torch.float32
    torch.testing.assert_close(k.log_paired(x.float(), y.float()).double(), k.log_paired(x, y),
                               rtol=1e-5, atol=1e-5)
    x.requires_grad_(), y.requires_grad_()
    assert torch.autograd.gradcheck(k.log_paired, (x, y))
    assert torch.autograd.gradcheck(k.pairwise, (x, y))


def test_median_bandwidth_follows_the_covariance_in_either_order(points):
    """The engine fits first and installs the DP covariance after; the result equals the other order."""
    e = _correlated(points, 100, 3)
    cov = torch.tensor([[3.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 0.2]], dtype=torch.float64)
    fit_then_set = MahalanobisKernel(bandwidth="median").fit(e).set_covariance(cov)
    set_then_fit = MahalanobisKernel(bandwidth="median").set_covariance(cov).fit(e)
    assert float(fit_then_set.log_bandwidth) == pytest.approx(float(set_then_fit.log_bandwidth), rel=1e-12)
    x, y = points(4, 3, 1), points(4, 3, 2)
    torch.testing.assert_close(fit_then_set.log_paired(x, y), set_then_fit.log_paired(x, y))
    assert "_median_sample" not in "".join(fit_then_set.state_dict())  # fit rows are never checkpointed
