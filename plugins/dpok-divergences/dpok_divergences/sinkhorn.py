"""Batched log-domain Sinkhorn: entropic optimal transport and the debiased Sinkhorn divergence.

OT_eps(a, b) = min_{G in Pi(a, b)} <G, C> + eps KL(G || a (x) b)
             = max_{f, g} <a, f> + <b, g>   at the fixed point of
  f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps),   g_j = -eps log sum_i a_i exp((f_i - C_ij) / eps).
S_eps(a, b) = OT_eps(a, b) - OT_eps(a, a)/2 - OT_eps(b, b)/2  (Feydy et al. 2019): 0 at a = b,
>= 0, symmetric, and -> the exact OT cost W(a, b) as eps -> 0 (the entropic bias of the three terms
cancels to first order).

Weights are given as log-masses ``[..., n]`` (``-inf`` = zero mass) on a common support with cost
``[..., n, n]``; all leading dims are batch dims (no Python loop over samples). The iterations run
without autograd, with eps annealed geometrically from the cost's diameter down to ``epsilon``
(eps-scaling) before iterating at ``epsilon`` until the marginal error is below ``tol``; one last
differentiable update then gives gradients d OT / d a = f, d OT / d b = g (envelope theorem, up to
an additive constant), so memory is one ``[..., n, n]`` graph whatever the iteration count.
"""

from __future__ import annotations

import math

import torch

_CHECK_EVERY = 5


def _softmin(eps: float, cost: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """-eps * log sum_j exp(h_j - C_ij / eps): ``cost [..., n, m]``, ``h [..., m]`` -> ``[..., n]``."""
    return _softmin_scaled(eps, -cost / eps, h)


def _softmin_scaled(eps: float, neg_cost: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """:func:`_softmin` with ``neg_cost = -C / eps`` precomputed (the loop at fixed eps)."""
    return -eps * torch.logsumexp(h.unsqueeze(-2) + neg_cost, dim=-1)


def _eps_schedule(diameter: float, epsilon: float, scaling: float = 0.5) -> list[float]:
    """eps-scaling: diameter, diameter * scaling, ... down to epsilon (at least [epsilon])."""
    steps = []
    if diameter > epsilon:
        n = int(math.ceil(math.log(epsilon / diameter) / math.log(scaling)))
        steps = [diameter * scaling**k for k in range(n)]
    return steps + [epsilon]


def entropic_ot(log_a: torch.Tensor, log_b: torch.Tensor, cost: torch.Tensor, epsilon: float,
                max_iter: int = 200, tol: float = 1e-4) -> torch.Tensor:
    """OT_eps(a, b) for log-weights ``[..., n]``, ``[..., m]`` and cost ``[..., n, m]`` -> ``[...]``.

    ``cost`` is treated as given: gradients flow to ``log_a``/``log_b`` (and, first-order, to ``cost``).
    Weights must each sum to 1 (renormalise restricted masses first).
    """
    cost_t = cost.transpose(-1, -2)  # [..., m, n]
    with torch.no_grad():
        c, ct = cost.detach(), cost_t.detach()
        la, lb = log_a.detach(), log_b.detach()
        diameter = float(c.max()) if c.numel() else 0.0
        schedule = _eps_schedule(max(diameter, epsilon), epsilon)
        f = torch.zeros_like(la)  # [..., n]
        g = torch.zeros_like(lb)  # [..., m]
        for eps in schedule[:-1]:  # annealing: one (symmetrised) update per level
            f_new = _softmin(eps, c, lb + g / eps)
            g_new = _softmin(eps, ct, la + f / eps)
            f, g = 0.5 * (f + f_new), 0.5 * (g + g_new)
        eps = epsilon
        a = la.exp()
        nc, nct = -c / eps, -ct / eps  # [..., n, m], [..., m, n]
        for it in range(max_iter):
            f_new = _softmin_scaled(eps, nc, lb + g / eps)
            if it % _CHECK_EVERY == 0 or it == max_iter - 1:
                # row marginal of the current plan: a_i exp((f_i - f_new_i) / eps); error in L1
                err = (a * torch.expm1((f - f_new) / eps).abs()).nan_to_num(0.0).sum(-1)
                if err.numel() == 0 or float(err.max()) < tol:
                    f = f_new
                    break
            f = f_new
            g = _softmin_scaled(eps, nct, la + f / eps)
    # one differentiable extrapolation step from the converged (detached) potentials
    f_out = _softmin(epsilon, cost, log_b + g / epsilon)  # [..., n], depends on b (and cost)
    g_out = _softmin(epsilon, cost_t, log_a + f / epsilon)  # [..., m], depends on a (and cost)
    a_w, b_w = log_a.exp(), log_b.exp()
    return (a_w * f_out).sum(-1) + (b_w * g_out).sum(-1)


def self_ot(log_a: torch.Tensor, cost: torch.Tensor, epsilon: float, max_iter: int = 200,
            tol: float = 1e-4) -> torch.Tensor:
    """OT_eps(a, a) for log-weights ``[..., n]`` and a symmetric cost ``[..., n, n]`` -> ``[...]``.

    Uses the symmetric fixed point f = softmin(a + f/eps) with averaged updates
    f <- (f + T(f))/2: plain alternating Sinkhorn oscillates on symmetric problems and converges
    very slowly. OT_eps(a, a) = 2 <a, f>.
    """
    with torch.no_grad():
        c, la = cost.detach(), log_a.detach()
        diameter = float(c.max()) if c.numel() else 0.0
        f = torch.zeros_like(la)  # [..., n]
        for eps in _eps_schedule(max(diameter, epsilon), epsilon)[:-1]:
            f = 0.5 * (f + _softmin(eps, c, la + f / eps))
        a = la.exp()
        nc = -c / epsilon
        for it in range(max_iter):
            f_new = _softmin_scaled(epsilon, nc, la + f / epsilon)
            if it % _CHECK_EVERY == 0 or it == max_iter - 1:
                err = (a * torch.expm1((f - f_new) / epsilon).abs()).nan_to_num(0.0).sum(-1)
                if err.numel() == 0 or float(err.max()) < tol:
                    f = f_new
                    break
            f = 0.5 * (f + f_new)
    f_out = _softmin(epsilon, cost, log_a + f / epsilon)  # differentiable step, [..., n]
    return 2.0 * (log_a.exp() * f_out).sum(-1)


def sinkhorn_divergence(log_a: torch.Tensor, log_b: torch.Tensor, cost: torch.Tensor, epsilon: float,
                        max_iter: int = 200, tol: float = 1e-4) -> torch.Tensor:
    """Debiased S_eps(a, b) on a shared support: ``[..., n]`` weights, symmetric ``[..., n, n]`` cost.

    The cross problem (a, b) runs alternating Sinkhorn; the two self problems (a, a), (b, b) run
    the symmetric averaged iteration as one stacked batch.
    """
    cross = entropic_ot(log_a, log_b, cost, epsilon, max_iter, tol)  # [...]
    selfs = self_ot(torch.stack([log_a, log_b]), cost.unsqueeze(0), epsilon, max_iter, tol)  # [2, ...]
    s = (cross - 0.5 * (selfs[0] + selfs[1])).clamp_min(0.0)
    # a == b (e.g. policy == reference at step 0): exactly 0, the minimum, with zero gradient; the
    # two solvers would otherwise leave a residue of the order of tol
    same = (log_a.detach() == log_b.detach()).all(-1)  # [...]
    return torch.where(same, torch.zeros_like(s), s)
