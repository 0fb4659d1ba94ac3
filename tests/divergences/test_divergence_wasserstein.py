"""Wasserstein: exact LP (scipy.optimize.linprog) vs Sinkhorn and the ordered closed form; top-k, binding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment, linprog
from scipy.stats import wasserstein_distance

from dpok_divergences import Wasserstein, entropic_ot, ordered_w1, sinkhorn_divergence
from dpok_divergences.wasserstein import ground_cost
from dpok_framework.errors import ConfigError

INF = math.inf

def _logsm(x):
    return x - torch.logsumexp(x, -1, keepdim=True)


def lp_w1(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> float:
    """Exact optimal transport cost by linear programming (marginal equality constraints)."""
    n, m = cost.shape
    rows = np.kron(np.eye(n), np.ones((1, m)))
    cols = np.kron(np.ones((1, n)), np.eye(m))
    res = linprog(cost.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.concatenate([p, q]), bounds=(0, None),
                  method="highs")
    assert res.success, res.message
    return float(res.fun)


def _cosine_cost(e: torch.Tensor) -> torch.Tensor:
    e = F.normalize(e, dim=-1)
    return (1 - e @ e.T).clamp_min(0)


def _angle_cost(e: torch.Tensor) -> np.ndarray:
    """Reference arc length: arccos of the cosine in numpy (float64, no zero rows)."""
    u = e.numpy() / np.linalg.norm(e.numpy(), axis=1, keepdims=True)
    return np.arccos(np.clip(u @ u.T, -1.0, 1.0))


def _random_case(seed: int, v: int = 6, d: int = 3, zeros: bool = False):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(v, d, generator=g, dtype=torch.float64)
    lp = _logsm(torch.randn(v, generator=g, dtype=torch.float64) * 2)
    lq = _logsm(torch.randn(v, generator=g, dtype=torch.float64) * 2)
    if zeros:
        lp[0], lq[1] = -INF, -INF
        lp, lq = _logsm(lp), _logsm(lq)
    return emb, lp, lq


@pytest.mark.parametrize("seed", range(4))
def test_ordered_closed_form_matches_linprog_and_scipy(seed):
    _, lp, lq = _random_case(seed, v=7, zeros=seed % 2 == 1)
    p, q = lp.exp().numpy(), lq.exp().numpy()
    pos = np.arange(7.0)
    exact = lp_w1(p, q, np.abs(pos[:, None] - pos[None, :]))
    w = Wasserstein(ground="ordered")(lp, lq)
    assert float(w) == pytest.approx(exact, abs=1e-9)
    assert float(w) == pytest.approx(wasserstein_distance(pos, pos, p, q), abs=1e-9)
    assert float(ordered_w1(lp, lq)) == float(w)


@pytest.mark.parametrize("seed", range(3))
def test_sinkhorn_matches_linprog_within_the_entropic_tolerance(seed):
    emb, lp, lq = _random_case(seed, zeros=seed == 2)
    exact = lp_w1(lp.exp().numpy(), lq.exp().numpy(), _angle_cost(emb))  # the default cost: the angle
    for eps in (0.05, 0.01):
        w = Wasserstein(epsilon=eps, max_iter=2000, tol=1e-7)
        w.bind_token_embeddings(emb)
        assert abs(float(w(lp, lq)) - exact) <= 1.0 * eps, (eps, float(w(lp, lq)), exact)


def test_sinkhorn_on_a_line_approaches_the_closed_form():
    _, lp, lq = _random_case(7, v=8)
    pos = torch.arange(8.0, dtype=torch.float64)
    cost = (pos[:, None] - pos[None, :]).abs() / 7  # diameter 1
    s = sinkhorn_divergence(lp, lq, cost, epsilon=0.005, max_iter=3000, tol=1e-8)
    assert float(s) == pytest.approx(float(ordered_w1(lp, lq)) / 7, abs=0.01)


def test_sinkhorn_axioms_and_triangle_inequality():
    g = torch.Generator().manual_seed(11)
    emb = torch.randn(6, 3, generator=g, dtype=torch.float64)
    w = Wasserstein(epsilon=0.01, max_iter=2000, tol=1e-7)
    w.bind_token_embeddings(emb)
    ls = _logsm(torch.randn(5, 3, 6, generator=g, dtype=torch.float64) * 2)  # 5 triples
    p, q, s = ls[:, 0], ls[:, 1], ls[:, 2]
    assert torch.equal(w(p, p), torch.zeros(5, dtype=torch.float64))
    assert (w(p, q) >= 0).all()
    torch.testing.assert_close(w(p, q), w(q, p), rtol=1e-6, atol=1e-6)
    assert (w(p, s) <= w(p, q) + w(q, s) + 0.02).all()  # exact for W1; Sinkhorn within its tolerance


def test_sinkhorn_gradients_finite_with_zeros_and_match_finite_differences():
    emb, lp, lq = _random_case(3, zeros=True)
    w = Wasserstein(epsilon=0.1, max_iter=3000, tol=1e-9)
    w.bind_token_embeddings(emb)
    lp_, lq_ = lp.clone().requires_grad_(True), lq.clone().requires_grad_(True)
    w(lp_, lq_).backward()
    assert torch.isfinite(lp_.grad).all() and torch.isfinite(lq_.grad).all()
    # envelope-theorem gradient vs central differences along a simplex-preserving direction
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, generator=g, dtype=torch.float64)
    x = logits.clone().requires_grad_(True)
    w(_logsm(x), lq).backward()
    direction = torch.randn(6, generator=g, dtype=torch.float64)
    h = 1e-5
    fd = (w(_logsm(logits + h * direction), lq) - w(_logsm(logits - h * direction), lq)) / (2 * h)
    assert float((x.grad * direction).sum()) == pytest.approx(float(fd), rel=1e-3, abs=1e-6)


def test_top_k_union_restricts_and_renormalises():
    g = torch.Generator().manual_seed(4)
    v = 12
    emb = torch.randn(v, 4, generator=g, dtype=torch.float64)
    lp = _logsm(torch.randn(2, v, generator=g, dtype=torch.float64) * 3)
    lq = _logsm(torch.randn(2, v, generator=g, dtype=torch.float64) * 3)
    full = Wasserstein(top_k=v, epsilon=0.02, max_iter=2000, tol=1e-9)
    full.bind_token_embeddings(emb)
    big = Wasserstein(top_k=10 * v, epsilon=0.02, max_iter=2000, tol=1e-9)  # k >= V: same as the full vocabulary
    big.bind_token_embeddings(emb)
    torch.testing.assert_close(full(lp, lq), big(lp, lq))
    k = 3
    small = Wasserstein(top_k=k, epsilon=0.02, max_iter=2000, tol=1e-9)
    small.bind_token_embeddings(emb)
    out = small(lp, lq)
    for i in range(2):  # reference: explicit union, renormalised, on the same cost
        union = sorted(set(lp[i].topk(k).indices.tolist()) | set(lq[i].topk(k).indices.tolist()))
        u = torch.tensor(union)
        ref = sinkhorn_divergence(_logsm(lp[i, u]), _logsm(lq[i, u]), torch.tensor(_angle_cost(emb[u])), 0.02, 2000,
                                  1e-9)
        assert float(out[i]) == pytest.approx(float(ref), abs=1e-8)


def test_batched_leading_dims_and_float32():
    g = torch.Generator().manual_seed(5)
    emb = torch.randn(40, 8, generator=g)
    lp = _logsm(torch.randn(2, 3, 40, generator=g) * 2)
    lq = _logsm(torch.randn(2, 3, 40, generator=g) * 2)
    w = Wasserstein(top_k=5)
    w.bind_token_embeddings(emb)
    out = w(lp, lq)
    assert out.shape == (2, 3) and out.dtype == torch.float32 and torch.isfinite(out).all()
    torch.testing.assert_close(out[1, 2], w(lp[1, 2], lq[1, 2]), rtol=1e-5, atol=1e-6)


def test_binding_and_ground_selection():
    w = Wasserstein()
    assert w.ground == "ordered"
    emb = torch.nn.Parameter(torch.randn(10, 4))
    w.bind_token_embeddings(emb)
    assert w.ground == "embedding" and list(w.parameters()) == [] and "_token_embeddings" not in w.state_dict()
    with torch.no_grad():  # a detached view follows in-place optimiser updates
        emb.mul_(2.0)
    assert torch.equal(w._token_embeddings, emb.detach())
    assert Wasserstein(ground="ordered").ground == "ordered"
    with pytest.raises(ConfigError, match="bind_token_embeddings"):
        Wasserstein(ground="embedding")(torch.zeros(1, 3), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="rows"):
        w(_logsm(torch.zeros(1, 11)), _logsm(torch.zeros(1, 11)))
    with pytest.raises(ValueError, match=r"\[V, d\]"):
        w.bind_token_embeddings(torch.zeros(3))


def test_entropic_ot_converges_to_the_lp_on_asymmetric_supports():
    g = torch.Generator().manual_seed(9)
    cost = torch.rand(4, 5, generator=g, dtype=torch.float64)
    la = _logsm(torch.randn(4, generator=g, dtype=torch.float64))
    lb = _logsm(torch.randn(5, generator=g, dtype=torch.float64))
    exact = lp_w1(la.exp().numpy(), lb.exp().numpy(), cost.numpy())
    val = entropic_ot(la, lb, cost, epsilon=1e-3, max_iter=5000, tol=1e-9)
    assert exact - 1e-9 <= float(val) <= exact + 0.01  # OT_eps >= W, -> W as eps -> 0


# -- issue 14 case 4: a true ground metric -----------------------------------------------------------------
def _triangle_violation(c: np.ndarray) -> float:
    """max_{i,j,k} C_ik - C_ij - C_jk (<= 0 for a metric)."""
    return float((c[:, None, :] - c[:, :, None] - c[None, :, :]).max())


def test_issue14_cost_is_a_metric_and_cosine_is_not():
    """1 - cos violates the triangle inequality (three unit vectors at 0, 60 and 120 degrees: 1.5 > 0.5 + 0.5);
    the default arc length and the Euclidean cost satisfy it on random embeddings with zero and repeated rows."""
    e = torch.tensor([[1.0, 0.0], [0.5, math.sqrt(3) / 2], [-0.5, math.sqrt(3) / 2]], dtype=torch.float64)
    idx = torch.arange(3)
    assert _triangle_violation(ground_cost(e, idx, "cosine").numpy()) == pytest.approx(0.5)
    g = torch.Generator().manual_seed(14)
    emb = torch.randn(12, 5, generator=g, dtype=torch.float64)
    emb[3] = 0.0
    emb[7] = 0.0
    idx = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 4])  # token 4 twice
    e = emb[idx]
    for kind in ("angle", "euclidean"):
        c = ground_cost(e, idx, kind).numpy()
        assert _triangle_violation(c) <= 1e-12, kind
        assert np.allclose(c, c.T) and (np.diag(c) == 0).all() and c[4, 12] == 0.0
    c = ground_cost(e, idx, "angle").numpy()
    np.testing.assert_allclose(c[np.ix_([0, 1, 2], [0, 1, 2])], _angle_cost(emb[:3]), atol=1e-7)  # arccos: ~1e-8 at 0
    assert c[3, 0] == pytest.approx(math.pi / 2) and c[3, 7] == pytest.approx(math.pi / 2)


def test_issue14_zero_embedding_row_has_zero_self_cost():
    """A distribution on a token whose embedding row is 0 is at distance 0 from itself (it was 1 with 1 - cos)."""
    emb = torch.randn(6, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    emb[0] = 0.0
    w = Wasserstein(epsilon=0.01, max_iter=2000, tol=1e-9)
    w.bind_token_embeddings(emb)
    lp = _logsm(torch.tensor([8.0, 0, 0, 0, 0, 0], dtype=torch.float64))
    lq = _logsm(torch.tensor([8.0, 0, 0, 0, 0, 0.5], dtype=torch.float64))
    exact = lp_w1(lp.exp().numpy(), lq.exp().numpy(), ground_cost(emb, torch.arange(6), "angle").numpy())
    assert float(w(lp, lq)) == pytest.approx(exact, abs=0.01)
    assert float(entropic_ot(lp, lp, ground_cost(emb, torch.arange(6), "angle"), 1e-3, 5000, 1e-10)) < 0.01


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("cost", ["angle", "euclidean"])
def test_uniform_disjoint_supports_match_the_assignment_problem(seed, cost):
    """p uniform on n tokens, q uniform on n others: W1 = min over permutations (linear_sum_assignment) / n,
    and the debiased Sinkhorn value is within the documented entropic bias (epsilon, in cost units)."""
    n = 5
    g = torch.Generator().manual_seed(20 + seed)
    emb = torch.randn(2 * n, 4, generator=g, dtype=torch.float64)
    c = ground_cost(emb, torch.arange(2 * n), cost).numpy()
    rows, cols = linear_sum_assignment(c[:n, n:])
    exact = c[:n, n:][rows, cols].sum() / n
    lp = torch.log(torch.tensor([1.0] * n + [0.0] * n, dtype=torch.float64) / n)
    lq = torch.log(torch.tensor([0.0] * n + [1.0] * n, dtype=torch.float64) / n)
    assert lp_w1(lp.exp().numpy(), lq.exp().numpy(), c) == pytest.approx(exact, abs=1e-9)
    eps = 0.02
    w = Wasserstein(cost=cost, epsilon=eps, max_iter=3000, tol=1e-9)
    w.bind_token_embeddings(emb)
    assert abs(float(w(lp, lq)) - exact) <= eps, (float(w(lp, lq)), exact)


def test_cosine_cost_is_kept_as_an_explicit_option():
    emb, lp, lq = _random_case(0)
    w = Wasserstein(cost="cosine", epsilon=0.01, max_iter=2000, tol=1e-7)
    w.bind_token_embeddings(emb)
    exact = lp_w1(lp.exp().numpy(), lq.exp().numpy(), _cosine_cost(emb).numpy())
    assert abs(float(w(lp, lq)) - exact) <= 0.01


# -- symmetry by construction and exact gradients (the contract's failures before: 1.193866888 vs
# 1.193864839 at tol 6e-4, and float64 gradcheck failing at the default params) -----------------------
def _bound(params: dict) -> Wasserstein:
    w = Wasserstein(ground="embedding", **params)
    w.bind_token_embeddings(torch.randn(64, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    return w


SOLVER_PARAMS = [{}, {"top_k": 63, "epsilon": 0.1847, "max_iter": 123, "tol": 6.07e-4},
                 {"epsilon": 0.005, "max_iter": 3}, {"tol": 0.3, "max_iter": 17}]


@pytest.mark.parametrize("params", SOLVER_PARAMS)
def test_symmetric_to_the_last_bit_whatever_the_solver_budget(params):
    """S(a, b) and S(b, a) run the same arithmetic (canonical pair order, symmetrised cost), so they agree
    exactly even when the solver stops far from convergence; batched rows equal rows run alone."""
    w = _bound(params)
    g = torch.Generator().manual_seed(3)
    for dtype in (torch.float64, torch.float32):
        lp = _logsm(torch.randn(5, 40, generator=g, dtype=torch.float64) * 2).to(dtype)
        lq = _logsm(torch.randn(5, 40, generator=g, dtype=torch.float64) * 2).to(dtype)
        lq[1, :5] = -INF  # zero masses too
        with torch.no_grad():
            v, back = w(lp, lq), w(lq, lp)
            rows = torch.stack([w(lp[i], lq[i]) for i in range(5)])
        assert torch.equal(v, back), (v - back).abs().max()
        torch.testing.assert_close(v, rows, rtol=1e-10 if dtype == torch.float64 else 1e-6, atol=0.0)


@pytest.mark.parametrize("params", SOLVER_PARAMS)
def test_float64_gradcheck_whatever_the_iteration_count(params):
    """The gradient is autograd's through the unrolled iterations: exact for the computed value, also when
    max_iter truncates the solver."""
    w = _bound(params)
    g = torch.Generator().manual_seed(1)
    lp = _logsm(torch.randn(2, 6, generator=g, dtype=torch.float64)).requires_grad_(True)
    lq = _logsm(torch.randn(2, 6, generator=g, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(w, (lp, lq), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_checkpointed_large_problem_has_the_same_gradient(monkeypatch):
    """Past 2^16 cost elements each iteration is checkpointed; the gradient is the plain unroll's."""
    import dpok_divergences.sinkhorn as sk

    g = torch.Generator().manual_seed(2)
    lp = _logsm(torch.randn(3, 30, generator=g, dtype=torch.float64) * 2)
    lq = _logsm(torch.randn(3, 30, generator=g, dtype=torch.float64) * 2)
    grads = []
    for threshold in (1 << 62, 1):  # never / always checkpoint
        monkeypatch.setattr(sk, "_CHECKPOINT_NUMEL", threshold)
        p = lp.clone().requires_grad_(True)
        _bound({"top_k": 16})(p, lq).sum().backward()
        grads.append(p.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-14)
