"""Batched log-domain Sinkhorn: entropic optimal transport and the debiased Sinkhorn divergence.

OT_eps(a, b) = min_{G in Pi(a, b)} <G, C> + eps KL(G || a (x) b)
             = max_{f, g} <a, f> + <b, g>   at the fixed point of
  f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps),   g_j = -eps log sum_i a_i exp((f_i - C_ij) / eps).
S_eps(a, b) = OT_eps(a, b) - OT_eps(a, a)/2 - OT_eps(b, b)/2  (Feydy et al. 2019): 0 at a = b,
>= 0, symmetric, and -> the exact OT cost W(a, b) as eps -> 0 (the entropic bias of the three terms
cancels to first order).

Weights are given as log-masses ``[..., n]`` (``-inf`` = zero mass) with cost ``[..., n, m]``; all
leading dims are batch dims (no Python loop over samples). eps is annealed geometrically from the
cost's diameter down to ``epsilon`` (eps-scaling), then the cross problem runs alternating Sinkhorn and
the self problems the averaged symmetric iteration f <- (f + T(f))/2, each row until its plan's
marginal error is below ``tol`` (L1) or ``max_iter``; a converged row is frozen, so a row's value does
not depend on the rest of the batch.

Symmetry by construction: :func:`sinkhorn_divergence` puts each pair in a canonical order (the
lexicographically smaller log-weight row first) before solving, so S(a, b) and S(b, a) run the same
arithmetic and agree bitwise whatever ``tol`` and ``max_iter``.

Gradients are exact for the computed value (whatever the iteration count): autograd differentiates
the unrolled iterations. On large problems (``[..., n, m]`` of 2^16 elements or more, e.g. the
engine's penalty over every token position) each iteration is checkpointed (``torch.utils.checkpoint``),
so memory is the ``[..., n]`` potentials per iteration plus one ``[..., n, m]`` step at a time in the
backward pass, never a ``[..., n, m]`` graph per iteration; small problems unroll plainly. The stopping
rule is the only non-smooth part (the iteration count is piecewise constant in the inputs). The cost is
treated as data (no gradient).
"""

from __future__ import annotations

import math

import torch
from torch.utils.checkpoint import checkpoint

_CHECK_EVERY = 5
_CHECKPOINT_NUMEL = 1 << 16  # [..., n, m] elements from which each differentiated iteration is checkpointed


def _softmin_scaled(eps: float, neg_cost: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """-eps * log sum_j exp(h_j - C_ij / eps) with ``neg_cost = -C / eps [..., n, m]``, ``h [..., m]`` -> ``[..., n]``."""
    return -eps * torch.logsumexp(h.unsqueeze(-2) + neg_cost, dim=-1)


def _update(eps: float, neg_cost: torch.Tensor, log_w: torch.Tensor, pot: torch.Tensor) -> torch.Tensor:
    """The Sinkhorn map T_w(pot) = softmin(log_w + pot / eps), checkpointed when differentiated on a large
    problem (one ``[..., n, m]`` graph per iteration would be kept otherwise)."""
    if neg_cost.numel() >= _CHECKPOINT_NUMEL and torch.is_grad_enabled() and (log_w.requires_grad or pot.requires_grad):
        return checkpoint(_map, eps, neg_cost, log_w, pot, use_reentrant=False)
    return _map(eps, neg_cost, log_w, pot)


def _map(eps: float, neg_cost: torch.Tensor, log_w: torch.Tensor, pot: torch.Tensor) -> torch.Tensor:
    return _softmin_scaled(eps, neg_cost, log_w + pot / eps)


def _eps_schedule(diameter: float, epsilon: float, scaling: float = 0.5) -> list[float]:
    """eps-scaling: diameter, diameter * scaling, ... down to epsilon (at least [epsilon])."""
    steps = []
    if diameter > epsilon:
        n = int(math.ceil(math.log(epsilon / diameter) / math.log(scaling)))
        steps = [diameter * scaling**k for k in range(n)]
    return steps + [epsilon]


def _marginal_error(log_w: torch.Tensor, pot: torch.Tensor, pot_new: torch.Tensor, eps: float) -> torch.Tensor:
    """L1 error of one marginal of the plan: sum_i w_i |exp((f_i - T(g)_i) / eps) - 1| -> ``[...]``."""
    with torch.no_grad():
        return (log_w.exp() * torch.expm1((pot - pot_new) / eps).abs()).nan_to_num(0.0).sum(-1)


def _keep(done: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    return torch.where(done.unsqueeze(-1), old, new)


def entropic_ot(log_a: torch.Tensor, log_b: torch.Tensor, cost: torch.Tensor, epsilon: float,
                max_iter: int = 200, tol: float = 1e-4) -> torch.Tensor:
    """OT_eps(a, b) for log-weights ``[..., n]``, ``[..., m]`` and cost ``[..., n, m]`` -> ``[...]``.

    ``cost`` is treated as data (detached); gradients flow to ``log_a``/``log_b``.
    Weights must each sum to 1 (renormalise restricted masses first).
    """
    c = cost.detach()
    ct = c.transpose(-1, -2)  # [..., m, n]
    diameter = float(c.max()) if c.numel() else 0.0
    f = torch.zeros_like(log_a)  # [..., n]
    g = torch.zeros_like(log_b)  # [..., m]
    for eps in _eps_schedule(max(diameter, epsilon), epsilon)[:-1]:  # annealing: one averaged update per level
        f, g = 0.5 * (f + _update(eps, -c / eps, log_b, g)), 0.5 * (g + _update(eps, -ct / eps, log_a, f))
    eps = epsilon
    nc, nct = -c / eps, -ct / eps  # [..., n, m], [..., m, n]
    done = torch.zeros(f.shape[:-1], dtype=torch.bool, device=f.device)  # [...] converged rows (frozen)
    for it in range(max_iter):
        fn = _update(eps, nc, log_b, g)
        if it % _CHECK_EVERY == 0 or it == max_iter - 1:
            now = ~done & (_marginal_error(log_a, f, fn, eps) < tol)
            f = _keep(done, f, fn)
            done = done | now
            if bool(done.all()):
                break
        else:
            f = _keep(done, f, fn)
        g = _keep(done, g, _update(eps, nct, log_a, f))
    # value: one more step from the final potentials, <a, T_b(g)> + <b, T_a(f)>
    f_out, g_out = _update(eps, nc, log_b, g), _update(eps, nct, log_a, f)
    return (log_a.exp() * f_out).sum(-1) + (log_b.exp() * g_out).sum(-1)


def self_ot(log_a: torch.Tensor, cost: torch.Tensor, epsilon: float, max_iter: int = 200,
            tol: float = 1e-4) -> torch.Tensor:
    """OT_eps(a, a) for log-weights ``[..., n]`` and a symmetric cost ``[..., n, n]`` -> ``[...]``.

    Uses the symmetric fixed point f = T_a(f) with averaged updates f <- (f + T(f))/2: plain
    alternating Sinkhorn oscillates on symmetric problems and converges very slowly. OT_eps(a, a) = 2 <a, T_a(f)>.
    """
    c = cost.detach()
    diameter = float(c.max()) if c.numel() else 0.0
    f = torch.zeros_like(log_a)  # [..., n]
    for eps in _eps_schedule(max(diameter, epsilon), epsilon)[:-1]:
        f = 0.5 * (f + _update(eps, -c / eps, log_a, f))
    nc = -c / epsilon
    done = torch.zeros(f.shape[:-1], dtype=torch.bool, device=f.device)
    for it in range(max_iter):
        fn = _update(epsilon, nc, log_a, f)
        if it % _CHECK_EVERY == 0 or it == max_iter - 1:
            now = ~done & (_marginal_error(log_a, f, fn, epsilon) < tol)
            f = _keep(done, f, torch.where(now.unsqueeze(-1), fn, 0.5 * (f + fn)))
            done = done | now
            if bool(done.all()):
                break
        else:
            f = _keep(done, f, 0.5 * (f + fn))
    return 2.0 * (log_a.exp() * _update(epsilon, nc, log_a, f)).sum(-1)


def canonical_pair(log_a: torch.Tensor, log_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row pair ``[..., n]`` ordered so the lexicographically smaller row comes first (an exact total
    order: the first position where they differ decides), so f(canonical(a, b)) == f(canonical(b, a))."""
    with torch.no_grad():
        differ = log_a != log_b  # [..., n]
        first = differ.to(torch.uint8).argmax(-1, keepdim=True)  # [..., 1], 0 when equal (no swap needed)
        swap = (log_a.gather(-1, first) > log_b.gather(-1, first)).squeeze(-1)  # [...]
    return _keep(swap, log_a, log_b), _keep(swap, log_b, log_a)


def sinkhorn_divergence(log_a: torch.Tensor, log_b: torch.Tensor, cost: torch.Tensor, epsilon: float,
                        max_iter: int = 200, tol: float = 1e-4) -> torch.Tensor:
    """Debiased S_eps(a, b) on a shared support: ``[..., n]`` weights, symmetric ``[..., n, n]`` cost.

    The pair is put in canonical order (:func:`canonical_pair`) and the cost symmetrised ((C + C^T)/2),
    so S_eps(a, b) and S_eps(b, a) are the same computation: symmetric to the last bit.
    """
    c = cost.detach()
    c = 0.5 * (c + c.transpose(-1, -2))  # [..., n, n]
    la, lb = canonical_pair(log_a, log_b)
    cross = entropic_ot(la, lb, c, epsilon, max_iter, tol)  # [...]
    selfs = self_ot(torch.stack([la, lb]), c.unsqueeze(0), epsilon, max_iter, tol)  # [2, ...]
    s = (cross - 0.5 * (selfs[0] + selfs[1])).clamp_min(0.0)
    # a == b (e.g. policy == reference at step 0): exactly 0, the minimum, with zero gradient
    same = (log_a.detach() == log_b.detach()).all(-1)  # [...]
    return torch.where(same, torch.zeros_like(s), s)
