"""First-party kernels against scipy / scikit-learn / numpy reference formulas, plus their params."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist, pdist
from sklearn.metrics.pairwise import polynomial_kernel, rbf_kernel

from dpok_framework.errors import ComponentParamsError
from dpok_kernels.mahalanobis import MahalanobisKernel
from dpok_kernels.polynomial import PolynomialKernel
from dpok_kernels.rbf import RBFKernel
from dpok_kernels.spectral import SpectralKernel

FIRST_PARTY = ["linear", "polynomial", "rbf", "spectral", "mahalanobis", "hmk"]


# -- rbf --------------------------------------------------------------------------------------------
def test_rbf_matches_sklearn_and_closed_form_log_ratio(points):
    x, y = points(7, 5, 0), points(9, 5, 1)
    k = RBFKernel(sigma=0.8)
    ref = rbf_kernel(x.numpy(), y.numpy(), gamma=1.0 / (2 * 0.8**2))
    np.testing.assert_allclose(k.pairwise(x, y).numpy(), ref, rtol=1e-12, atol=1e-14)
    yp, yn = y[:7], y[2:]
    expect = (((x - yn) ** 2).sum(-1) - ((x - yp) ** 2).sum(-1)) / (2 * 0.8**2)
    torch.testing.assert_close(k.log_ratio(x, yp, yn), expect, rtol=1e-12, atol=1e-12)


def test_rbf_median_heuristic_matches_numpy(points):
    x = points(40, 6, 3, scale=4.0)
    k = RBFKernel().fit(x)
    assert float(k.sigma()) == pytest.approx(float(np.median(pdist(x.numpy()))), rel=1e-12)
    assert RBFKernel(sigma=2.0).fit(x).sigma().item() == pytest.approx(2.0)  # numeric sigma is kept


def test_rbf_log_paired_finite_where_naive_underflows():
    k = RBFKernel(sigma=1.0)
    x = torch.zeros(2, 3, dtype=torch.float64)
    y = torch.tensor([[100.0, 0, 0], [0, 60.0, 0]], dtype=torch.float64)
    assert bool((k.paired(x, y) == 0).all())  # exp(-5000), exp(-1800) underflow
    torch.testing.assert_close(k.log_paired(x, y), torch.tensor([-5000.0, -1800.0], dtype=torch.float64))
    assert k.log_ratio(x, y, y.flip(0)).tolist() == pytest.approx([-3200.0, 3200.0])


def test_rbf_unfitted_median_and_bad_shapes_are_actionable(points):
    with pytest.raises(RuntimeError, match="call fit"):
        RBFKernel().log_paired(points(2, 3), points(2, 3))
    k = RBFKernel(sigma=1.0)
    with pytest.raises(ValueError, match="dims differ"):
        k.pairwise(points(2, 3), points(2, 4))
    with pytest.raises(ValueError, match="as many rows"):
        k.log_paired(points(2, 3), points(3, 3))
    with pytest.raises(ValueError, match="NaN"):
        RBFKernel().fit(torch.tensor([[0.0, float("nan")], [1.0, 1.0]]))


def test_rbf_median_all_duplicates_warns_and_falls_back():
    with pytest.warns(RuntimeWarning, match="no positive distance"):
        k = RBFKernel().fit(torch.ones(5, 3))
    assert float(k.sigma()) == 1.0


def test_rbf_learnable_sigma_is_a_parameter_and_gradchecks(points):
    k = RBFKernel(sigma=1.3, learnable=True).double()
    assert [n for n, _ in k.named_parameters()] == ["log_sigma"]
    assert list(RBFKernel(sigma=1.3).parameters()) == []
    k.fit(points(10, 3))
    x, y = points(4, 3, 1), points(4, 3, 2)
    log_s = k.log_sigma.detach().clone().requires_grad_()

    def f(ls):
        return torch.func.functional_call(k, {"log_sigma": ls}, (x, y))  # forward = pairwise
    assert torch.autograd.gradcheck(f, (log_s,))


# -- polynomial -------------------------------------------------------------------------------------
@pytest.mark.parametrize("degree,offset,scale", [(1, 0.5, 0.25), (2, 1.5, 1.0), (3, 2.0, 1.5)])
def test_polynomial_matches_sklearn_on_normalised_inputs(points, degree, offset, scale):
    x, y = points(6, 4, 0, 3.0), points(5, 4, 1, 0.1)
    k = PolynomialKernel(degree=degree, offset=offset, scale=scale)
    xn = x / x.norm(dim=-1, keepdim=True)
    yn = y / y.norm(dim=-1, keepdim=True)
    ref = polynomial_kernel(xn.numpy(), yn.numpy(), degree=degree, gamma=scale, coef0=offset)
    np.testing.assert_allclose(k.pairwise(x, y).numpy(), ref, rtol=1e-12)
    torch.testing.assert_close(k.log_paired(x, y[:5].roll(1, 0).repeat(2, 1)[:6]),
                               torch.from_numpy(np.log(np.diag(polynomial_kernel(
                                   xn.numpy(), yn.roll(1, 0).repeat(2, 1)[:6].numpy(), degree=degree,
                                   gamma=scale, coef0=offset)))))


def test_polynomial_bounded_away_from_zero_even_antipodal():
    k = PolynomialKernel(degree=3, offset=1.5, scale=1.0)
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    lp = k.log_paired(x, -x)
    assert lp[0].item() == pytest.approx(3 * math.log(0.5), rel=1e-5)  # cos = -1: (c - s)^d
    assert lp[1].item() == pytest.approx(3 * math.log(1.5), rel=1e-5)  # zero vector: cos taken as 0


def test_polynomial_params_enforce_positivity():
    with pytest.raises(ComponentParamsError, match="offset > scale"):
        from dpok_framework import get_registry
        get_registry().build("kernel", {"name": "polynomial", "params": {"offset": 1.0, "scale": 1.0}})
    raw = PolynomialKernel(normalize=False, offset=0.0)
    assert raw.strictly_positive is False and PolynomialKernel().strictly_positive is True
    with pytest.raises(ValueError, match="row 0"):
        raw.log_paired(torch.tensor([[1.0, 0.0]]), torch.tensor([[-1.0, 0.0]]))


# -- spectral ---------------------------------------------------------------------------------------
def test_spectral_matches_numpy_mixture_and_is_normalised(points):
    x, y = points(6, 3, 0), points(8, 3, 1)
    k = SpectralKernel(bandwidths=(0.5, 2.0), weights=(3.0, 1.0), scale=1.5).double()
    d2 = cdist(x.numpy(), y.numpy(), "sqeuclidean")
    ref = 0.75 * np.exp(-d2 / (2 * 0.75**2)) + 0.25 * np.exp(-d2 / (2 * 3.0**2))
    np.testing.assert_allclose(k.pairwise(x, y).detach().numpy(), ref, rtol=1e-12)
    torch.testing.assert_close(k.paired(x, x), torch.ones(6, dtype=torch.float64))
    # far apart: the wide component dominates the logsumexp, no underflow
    far = x + 1e3
    lp = k.log_paired(x, far)
    expect = math.log(0.25) - ((x - far) ** 2).sum(-1) / (2 * 3.0**2)
    torch.testing.assert_close(lp, expect)


def test_spectral_median_scale_and_params_gradcheck(points):
    x = points(30, 4, 2, 5.0)
    k = SpectralKernel(bandwidths=(0.5, 1.0)).double().fit(x)
    med = float(np.median(pdist(x.numpy())))
    np.testing.assert_allclose(k.bandwidths().detach().numpy(), [0.5 * med, med], rtol=1e-12)
    assert {n for n, _ in k.named_parameters()} == {"weight_logits", "log_bandwidths"}
    a, b = points(4, 4, 3, 5.0), points(4, 4, 4, 5.0)
    theta = k.weight_logits.detach().clone().requires_grad_()
    logbw = k.log_bandwidths.detach().clone().requires_grad_()

    class LogPaired(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.k = k

        def forward(self, a, b):
            return self.k.log_paired(a, b)

    def f(t, s):
        return torch.func.functional_call(LogPaired(), {"k.weight_logits": t, "k.log_bandwidths": s}, (a, b))
    assert torch.autograd.gradcheck(f, (theta, logbw))


def test_spectral_params_validation():
    with pytest.raises(ValueError, match="one weight per bandwidth"):
        SpectralKernel(bandwidths=(1.0, 2.0), weights=(1.0,))
    with pytest.raises(ValueError):
        SpectralKernel(bandwidths=(1.0, -2.0))
    assert list(SpectralKernel(learnable=False).parameters()) == []


# -- mahalanobis ------------------------------------------------------------------------------------
def test_mahalanobis_matches_scipy(points):
    e = points(50, 4, 0) @ torch.tensor([[2.0, 0, 0, 0], [0.5, 1, 0, 0], [0, 0, 0.3, 0], [0, 0, 0.1, 1]],
                                        dtype=torch.float64)
    k = MahalanobisKernel(shrinkage=0.1).fit(e)
    s = k.covariance().numpy()
    x, y = points(5, 4, 1), points(6, 4, 2)
    dm = cdist(x.numpy(), y.numpy(), "mahalanobis", VI=np.linalg.inv(s))
    np.testing.assert_allclose(k.pairwise(x, y).numpy(), np.exp(-0.5 * dm**2), rtol=1e-10)
    np.testing.assert_allclose(k.log_paired(x, y[:5]).numpy(), -0.5 * np.diag(dm[:, :5]) ** 2, rtol=1e-10)


# -- all first-party kernels ------------------------------------------------------------------------
@pytest.mark.parametrize("name", FIRST_PARTY)
def test_first_party_registered_from_the_plugin_distribution(registry, name):
    info = registry.get("kernel", name)
    assert info.distribution == "dpok-kernels"
    assert (info.cls.__doc__ or "").strip(), "first-party kernels state their formula in the docstring"


@pytest.mark.parametrize("name", FIRST_PARTY)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_log_ratio_is_per_pair_without_gram_matrices(registry, points, name, dtype):
    """The engine's per-step path: log_ratio on [B, d] triplets, no pairwise() call, dtype kept."""
    x = points(64, 8, 0).abs()  # positive so linear's inner products are > 0
    kernel = registry.build("kernel", name).fit(x)

    def forbidden(*_):
        raise AssertionError("pairwise() called in the per-step path")
    for module in kernel.modules():
        module.pairwise = forbidden
    e_x, e_p, e_n = (t.to(dtype) for t in (x[:16], x[16:32], x[32:48]))
    lr = kernel.log_ratio(e_x, e_p, e_n)
    assert lr.shape == (16,) and lr.dtype == dtype and bool(torch.isfinite(lr).all())
    torch.testing.assert_close(lr, kernel.log_paired(e_x, e_p) - kernel.log_paired(e_x, e_n))


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_any_embedding_dim(registry, points, name):
    for d in (1, 3, 17, 130):
        x = points(20, d, d).abs()
        kernel = registry.build("kernel", name).fit(x)
        assert kernel.pairwise(x[:3], x[3:8]).shape == (3, 5)
        assert kernel.log_paired(x[:4], x[4:8]).shape == (4,)


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_fitted_kernel_survives_a_state_dict_round_trip(registry, points, name):
    """Engine checkpoints: a fresh kernel with the same params loads a fitted one's state and agrees."""
    x = points(40, 6, 0).abs()
    fitted = registry.build("kernel", name).fit(x)
    if name == "hmk":
        fitted.set_covariance(torch.eye(6) * 2.0)
    fresh = registry.build("kernel", name)
    fresh.load_state_dict(fitted.state_dict())
    torch.testing.assert_close(fresh.log_paired(x[:5], x[5:10]), fitted.log_paired(x[:5], x[5:10]))
    torch.testing.assert_close(fresh.pairwise(x[:3], x[3:7]), fitted.pairwise(x[:3], x[3:7]))
    if name == "hmk":
        assert fresh.members["mahalanobis"].covariance_fixed


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_state_dict_is_all_tensors_for_safetensors_checkpoints(registry, points, tmp_path, name):
    """accelerate's save_state writes safetensors, which accept tensor values only."""
    from safetensors.torch import load_file, save_file

    x = points(30, 4, 0).abs()
    kernel = registry.build("kernel", name).fit(x)
    state = kernel.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values()), {k: type(v) for k, v in state.items()}
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "k.safetensors")
    fresh = registry.build("kernel", name)
    fresh.load_state_dict(load_file(tmp_path / "k.safetensors"))
    torch.testing.assert_close(fresh.log_paired(x[:5], x[5:10]), kernel.log_paired(x[:5], x[5:10]))
