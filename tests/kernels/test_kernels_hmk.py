"""Hierarchical Mixture of Kernels: formula, weights, entropy regulariser, learnability, PSD for any logits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import entropy

from dpok_kernels.hmk import HMKKernel
from dpok_kernels.mahalanobis import MahalanobisKernel
from dpok_kernels.polynomial import PolynomialKernel
from dpok_kernels.rbf import RBFKernel
from dpok_kernels.spectral import SpectralKernel

logit = st.floats(-8.0, 8.0, allow_nan=False)
pair = st.tuples(logit, logit)


def _softmax(v):
    v = np.asarray(v, dtype=np.float64)
    e = np.exp(v - v.max())
    return e / e.sum()


def test_hmk_matches_the_hierarchical_formula(points):
    e = points(60, 5, 0, scale=2.0)
    params = dict(group_logits=(0.3, -0.2), local_logits=(1.0, 0.0), global_logits=(-0.5, 0.7))
    h = HMKKernel(**params).fit(e)
    members = {"rbf": RBFKernel().fit(e), "polynomial": PolynomialKernel().fit(e),
               "spectral": SpectralKernel().fit(e), "mahalanobis": MahalanobisKernel(bandwidth="median").fit(e)}
    tau, a_l, a_g = (_softmax(params[k]) for k in ("group_logits", "local_logits", "global_logits"))
    w = {"rbf": tau[0] * a_l[0], "polynomial": tau[0] * a_l[1], "spectral": tau[1] * a_g[0],
         "mahalanobis": tau[1] * a_g[1]}
    x, y = points(6, 5, 1, 2.0), points(7, 5, 2, 2.0)
    expect = 0.0
    for name, k in members.items():
        kk = k.pairwise(x, y).detach()
        if name == "polynomial":  # cosine-normalised: divide by sqrt(K(x,x) K(y,y)) = (s + c)^d
            kk = kk / 2.5**2
        expect = expect + w[name] * kk
    torch.testing.assert_close(h.pairwise(x, y).detach(), expect, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h.log_paired(x, y[:6]).detach(), torch.diagonal(expect[:, :6]).log(),
                               rtol=1e-10, atol=1e-10)
    mw = h.mixture_weights()
    for name in w:
        assert mw[name] == pytest.approx(w[name], rel=1e-12)
    assert mw["local"] == pytest.approx(tau[0]) and mw["global"] == pytest.approx(tau[1])
    assert sum(mw[n] for n in w) == pytest.approx(1.0)


def test_regularizer_is_negative_entropy_over_both_levels():
    params = dict(group_logits=(2.0, -1.0), local_logits=(0.0, 3.0), global_logits=(0.5, 0.5))
    h = HMKKernel(**params)
    expect = -sum(entropy(_softmax(params[k])) for k in params)
    assert float(h.regularizer().detach()) == pytest.approx(expect, rel=1e-12)
    assert float(HMKKernel().regularizer().detach()) == pytest.approx(-3 * math.log(2))  # uniform: the minimum


def test_minimising_the_regularizer_spreads_a_collapsed_mixture():
    h = HMKKernel(group_logits=(4.0, -4.0), local_logits=(-3.0, 3.0), global_logits=(5.0, 0.0))
    opt = torch.optim.SGD(h.parameters(), lr=1.0)
    before = float(h.regularizer().detach())
    for _ in range(300):
        opt.zero_grad()
        h.regularizer().backward()
        opt.step()
    after = float(h.regularizer().detach())
    assert after < before
    w = h.mixture_weights()
    assert after == pytest.approx(-3 * math.log(2), abs=1e-6)  # the uniform mixture: maximal entropy
    assert all(w[n] == pytest.approx(0.25, abs=1e-3) for n in ("rbf", "polynomial", "spectral", "mahalanobis"))


def test_weights_are_learnable_through_the_log_ratio(points):
    e = points(40, 4, 0)
    h = HMKKernel().fit(e)
    names = {n for n, _ in h.named_parameters()}
    assert {"group_logits", "local_logits", "global_logits"} <= names
    assert "members.spectral.weight_logits" in names  # members' learnable params are in the optimiser too
    loss = -h.log_ratio(e[:8], e[8:16], e[16:24]).mean()
    loss.backward()
    assert h.group_logits.grad is not None and float(h.group_logits.grad.abs().sum()) > 0
    frozen = HMKKernel(learn_weights=False)
    assert not any(n.endswith("_logits") and "members" not in n for n, _ in frozen.named_parameters())
    assert isinstance(frozen.regularizer(), torch.Tensor)


def test_logit_gradcheck(points):
    e = points(30, 3, 0)
    h = HMKKernel().double().fit(e)
    x, y = points(4, 3, 1), points(4, 3, 2)

    class Probe(torch.nn.Module):  # functional_call needs a forward: route it to the method under test
        def __init__(self, method):
            super().__init__()
            self.h, self.method = h, method

        def forward(self, *args):
            return getattr(self.h, self.method)(*args)

    def call(method, *args):
        def f(g, lo, gl):
            logits = {"h.group_logits": g, "h.local_logits": lo, "h.global_logits": gl}
            return torch.func.functional_call(Probe(method), logits, args)
        return f
    logits = tuple(t.detach().clone().requires_grad_() for t in (h.group_logits, h.local_logits, h.global_logits))
    assert torch.autograd.gradcheck(call("log_paired", x, y), logits)
    assert torch.autograd.gradcheck(call("pairwise", x, y), logits)
    assert torch.autograd.gradcheck(call("regularizer"), logits)


@given(g=pair, lo=pair, gl=pair, seed=st.integers(0, 1000))
def test_hmk_psd_for_arbitrary_logits(g, lo, gl, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(15, 4, generator=gen, dtype=torch.float64)
    x[10:] = x[:5] + 1e-9 * torch.randn(5, 4, generator=gen, dtype=torch.float64)  # near-duplicates
    h = HMKKernel(group_logits=g, local_logits=lo, global_logits=gl).fit(x)
    k = h.pairwise(x, x).detach()
    norm = float(torch.linalg.matrix_norm(k, ord=2))
    assert float((k - k.T).abs().max()) <= 1e-12 * norm
    assert float(torch.linalg.eigvalsh(k)[0]) >= -1e-10 * norm
    assert bool(torch.isfinite(h.log_paired(x, x.flip(0) * 1e3)).all())


def test_nested_member_params_and_set_covariance(registry, points):
    h = registry.build("kernel", {"name": "hmk", "params": {
        "rbf": {"sigma": 0.5}, "polynomial": {"degree": 3, "offset": 2.0},
        "mahalanobis": {"shrinkage": 0.2}, "learn_weights": False}})
    assert float(h.members["rbf"].sigma()) == pytest.approx(0.5)
    assert h.members["polynomial"].params.degree == 3
    assert h.members["mahalanobis"].params.bandwidth == 1.0  # nested dict replaces the HMK default
    assert HMKKernel().members["mahalanobis"].params.bandwidth == "median"
    assert h.uses_covariance
    cov = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    h.set_covariance(cov)
    h.fit(points(30, 3))
    torch.testing.assert_close(h.members["mahalanobis"].covariance(), cov)


def test_hmk_refuses_a_member_that_breaks_its_positivity(registry):
    """hmk declares strictly_positive (log K is a logsumexp of member logs): an unnormalised polynomial
    member, whose base s <x, y> + c can be <= 0, is a config error naming the field, not a log_paired crash."""
    from dpok_framework.errors import ComponentParamsError

    with pytest.raises(ComponentParamsError, match=r"polynomial.*normalize=False"):
        registry.build("kernel", {"name": "hmk", "params": {"polynomial": {"normalize": False, "offset": 1.0}}})
    # the member itself, alone, stays allowed and declares itself not strictly positive
    assert PolynomialKernel(normalize=False, offset=1.0).strictly_positive is False
    k = registry.build("kernel", {"name": "hmk", "params": {"polynomial": {"degree": 3, "offset": 2.0}}})
    assert k.strictly_positive
    x = torch.randn(6, 4, dtype=torch.float64)
    assert bool(torch.isfinite(k.fit(x).log_paired(x, -x)).all())  # opposite directions: cos = -1, still K > 0
