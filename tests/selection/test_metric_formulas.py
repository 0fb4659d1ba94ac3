"""Each metric against an independent numpy/scipy computation of its documented formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats as sps
from scipy.spatial.distance import cdist

from dpok_framework.selection import DivergenceEvidence, KernelEvidence

from .synthetic import heavy_tailed_drift, light_drift, local_boundary_triplets


@pytest.fixture(scope="module")
def reg():
    from dpok_framework import get_registry

    return get_registry()


@pytest.fixture(scope="module")
def triplets():
    x, pos, neg = local_boundary_triplets(n=120, d=6, seed=1)
    return x.double(), pos.double(), neg.double()


def _rbf(reg, sigma):
    return reg.build("kernel", {"name": "rbf", "params": {"sigma": sigma}})


def _metric(reg, name, **params):
    return reg.build("selection_metric", {"name": name, "params": params})


def _np_logk(x, y, sigma):  # log RBF, paired
    return -((x - y) ** 2).sum(-1) / (2 * sigma ** 2)


def test_tat_nag_pnav_match_numpy(reg, triplets):
    x, pos, neg = triplets
    sigma = 0.7
    ev = KernelEvidence(x, pos, neg)
    kern = _rbf(reg, sigma)
    X, P, N = (t.numpy() for t in triplets)
    lp, ln = _np_logk(X, P, sigma), _np_logk(X, N, sigma)
    k = lp - ln
    assert _metric(reg, "tat").evaluate(kern, ev).value == pytest.approx(np.mean(k > 0), abs=1e-12)
    assert _metric(reg, "tat", margin=0.5).evaluate(kern, ev).value == pytest.approx(
        np.mean(k > 0.5 * np.median(np.abs(k))), abs=1e-12)
    assert _metric(reg, "nag").evaluate(kern, ev).value == pytest.approx(k.mean() / k.std(), rel=1e-9)
    within = 0.5 * (lp.var() + ln.var())
    total = np.concatenate([lp, ln]).var()
    assert _metric(reg, "pnav").evaluate(kern, ev).value == pytest.approx(within / total, rel=1e-9)


def test_pnd_exact_is_the_unbiased_mmd_u_statistic(reg, triplets):
    _, pos, neg = triplets
    x = triplets[0]
    sigma = 0.9
    kern = _rbf(reg, sigma)
    value = _metric(reg, "pnd").evaluate(kern, KernelEvidence(x, pos, neg, mode="exact")).value
    A, B = pos.numpy(), neg.numpy()
    n = A.shape[0]
    k = lambda U, V: np.exp(-cdist(U, V, "sqeuclidean") / (2 * sigma ** 2))  # noqa: E731
    off = ~np.eye(n, dtype=bool)
    ref = (k(A, A)[off].sum() + k(B, B)[off].sum() - 2 * k(A, B)[off].sum()) / (n * (n - 1))
    assert value == pytest.approx(ref, rel=1e-9, abs=1e-12)


def test_pnd_uses_the_cosine_normalised_kernel(reg, triplets):
    """For a kernel with K(x, x) != 1 PND is the MMD of K / sqrt(K(a,a) K(b,b)) (here: polynomial)."""
    x, pos, neg = (0.15 * t for t in triplets)  # small norms keep x . y + 2 > 0 for every pair
    kern = reg.build("kernel", {"name": "polynomial", "params": {"degree": 3, "offset": 2.0, "normalize": False}})
    value = _metric(reg, "pnd").evaluate(kern, KernelEvidence(x, pos, neg, mode="exact")).value
    A, B = pos.numpy(), neg.numpy()
    n = A.shape[0]

    def k(U, V):
        raw = (U @ V.T + 2.0) ** 3
        du, dv = ((U * U).sum(-1) + 2.0) ** 3, ((V * V).sum(-1) + 2.0) ** 3
        return raw / np.sqrt(du[:, None] * dv[None, :])

    off = ~np.eye(n, dtype=bool)
    ref = (k(A, A)[off].sum() + k(B, B)[off].sum() - 2 * k(A, B)[off].sum()) / (n * (n - 1))
    assert value == pytest.approx(ref, rel=1e-8, abs=1e-12)


def test_kurtosis_matches_scipy_and_data_statistics_match_numpy(reg):
    logp, logq = heavy_tailed_drift(m=80, v=12, seed=2)
    ev = DivergenceEvidence(logp, logq)
    kl = reg.build("divergence", "kl")
    p, q = logp.exp().numpy(), logq.exp().numpy()
    kl_np = (p * (logp.numpy() - logq.numpy())).sum(-1)
    assert _metric(reg, "kurtosis").evaluate(kl, ev).value == pytest.approx(
        sps.kurtosis(kl_np, fisher=True, bias=True), rel=1e-7)
    so = _metric(reg, "support_overlap").data_statistics(ev)
    assert so["bc_mean"] == pytest.approx(np.sqrt(p * q).sum(-1).mean(), rel=1e-10)
    assert _metric(reg, "drift_magnitude").data_statistics(ev)["tv_mean"] == pytest.approx(
        0.5 * np.abs(p - q).sum(-1).mean(), rel=1e-10)
    r = (logp.numpy() - logq.numpy()).ravel()
    w = p.ravel() / p.sum()
    mu = (w * r).sum()
    m2, m4 = (w * (r - mu) ** 2).sum(), (w * (r - mu) ** 4).sum()
    assert _metric(reg, "kurtosis").data_statistics(ev)["log_ratio_excess_kurtosis"] == pytest.approx(
        m4 / m2 ** 2 - 3, rel=1e-8)
    ent = -(q * np.log(q)).sum(-1) / np.log(q.shape[1])
    assert _metric(reg, "smoothness").data_statistics(ev)["entropy_q_normalized"] == pytest.approx(ent.mean(), rel=1e-10)


def test_drift_uses_the_analytic_kl_gradient(reg):
    """d KL(softmax(z) || q) / dz = p * (log p - log q - KL): the metric's gradient norms match it."""
    logp, logq = light_drift(m=50, v=10, seed=3, scale=1.0)
    ev = DivergenceEvidence(logp, logq)
    kl = reg.build("divergence", "kl")
    lp, lq = logp.numpy(), logq.numpy()
    p = np.exp(lp)
    klv = (p * (lp - lq)).sum(-1, keepdims=True)
    g = np.linalg.norm(p * (lp - lq - klv), axis=-1)
    expected = np.log(np.quantile(g, 0.9)) - np.log(np.quantile(g, 0.1))
    assert _metric(reg, "drift_magnitude").evaluate(kl, ev).value == pytest.approx(expected, rel=1e-8)
    np.testing.assert_allclose(ev.stats(kl).grad_norms.numpy(), g, rtol=1e-8)


def test_smoothness_first_order_error_shrinks_linearly_with_eps(reg):
    """For a smooth divergence the gradient's prediction error is O(eps^2), relative O(eps)."""
    logp, logq = light_drift(m=60, v=12, seed=4, scale=0.8)
    ev = DivergenceEvidence(logp, logq)
    for name in ("kl", "hellinger", "js"):
        div = reg.build("divergence", name)
        a = _metric(reg, "smoothness", eps=0.01, draws=3).evaluate(div, ev).value
        b = _metric(reg, "smoothness", eps=0.02, draws=3).evaluate(div, ev).value
        assert 0 < a < 0.2
        assert b / a == pytest.approx(2.0, rel=0.25), name


def test_support_overlap_core_vs_full_support(reg):
    """A pair whose p puts 5% mass on an outcome where q has 1e-9 counts against KL(p||q), not against JS;
    two near-identical distributions whose tails are cut at different places do not count."""
    v = 6
    q_bad = torch.tensor([0.5, 0.3, 0.2 - 1e-9, 1e-9, 0.0, 0.0], dtype=torch.float64)
    p_bad = torch.tensor([0.45, 0.3, 0.2, 0.05, 0.0, 0.0], dtype=torch.float64)
    q_ok = torch.tensor([0.4, 0.3, 0.2, 0.0999, 1e-4, 0.0], dtype=torch.float64)
    p_ok = torch.tensor([0.4, 0.3, 0.2, 0.0998, 2e-4, 0.0], dtype=torch.float64)
    logp = torch.stack([p_bad, p_ok, p_ok, p_ok]).log()
    logq = torch.stack([q_bad, q_ok, q_ok, q_ok]).log()
    ev = DivergenceEvidence(logp, logq)
    metric = _metric(reg, "support_overlap")
    assert metric.evaluate(reg.build("divergence", "kl"), ev).value == pytest.approx(0.75)
    assert metric.evaluate(reg.build("divergence", "js"), ev).value == 1.0
    assert metric.evaluate(reg.build("divergence", "kl"), ev).veto is None  # finite on the data itself
    assert v == logp.shape[1]


def test_evidence_rejects_malformed_inputs():
    from dpok_framework.errors import DataError

    x = torch.randn(10, 4)
    with pytest.raises(DataError, match="same shape"):
        KernelEvidence(x, x, torch.randn(9, 4))
    bad = x.clone()
    bad[3, 1] = math.nan
    with pytest.raises(DataError, match="e_pos row 3"):
        KernelEvidence(x, bad, x)
    lp = torch.log_softmax(torch.randn(6, 5), -1)
    with pytest.raises(DataError, match="logq row 0 is not a normalised"):
        DivergenceEvidence(lp, torch.randn(6, 5))


def test_issue14_pnd_exact_standard_error_is_the_jackknife_of_the_u_statistic(reg, triplets):
    """Exact-mode PND reported a standard error of 0; it is now the jackknife SE of the U-statistic, checked
    against a brute-force leave-one-pair-out recomputation in numpy."""
    x, pos, neg = triplets
    sigma = 0.9
    res = _metric(reg, "pnd").evaluate(_rbf(reg, sigma), KernelEvidence(x, pos, neg, mode="exact"))
    A, B = pos.numpy(), neg.numpy()
    n = A.shape[0]
    k = lambda U, V: np.exp(-cdist(U, V, "sqeuclidean") / (2 * sigma ** 2))  # noqa: E731
    h = k(A, A) + k(B, B) - k(A, B) - k(A, B).T  # [n, n] h(z_i, z_j)
    np.fill_diagonal(h, 0.0)
    loo = np.array([np.delete(np.delete(h, i, 0), i, 1).sum() / ((n - 1) * (n - 2)) for i in range(n)])
    jack = math.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum())
    assert res.details["se"] > 0
    assert res.details["se"] == pytest.approx(jack, rel=1e-9)


def test_pnd_exact_standard_error_is_calibrated(reg):
    """Across independent data sets the spread of the exact estimate matches its reported SE (within 35%)."""
    kern = _rbf(reg, 1.0)
    values, ses = [], []
    for seed in range(40):
        x, pos, neg = local_boundary_triplets(n=60, d=4, seed=100 + seed)
        r = _metric(reg, "pnd").evaluate(kern, KernelEvidence(x.double(), pos.double(), neg.double(), mode="exact"))
        values.append(r.value)
        ses.append(r.details["se"])
    ratio = np.std(values, ddof=1) / np.mean(ses)
    assert 0.65 < ratio < 1.35, ratio
