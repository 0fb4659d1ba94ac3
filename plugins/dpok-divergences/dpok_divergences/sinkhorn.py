"""Batched log-domain Sinkhorn: entropic optimal transport and the debiased Sinkhorn divergence.

OT_eps(a, b) = min_{G in Pi(a, b)} <G, C> + eps KL(G || a (x) b)
             = max_{f, g} <a, f> + <b, g>   at the fixed point of
  f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps),   g_j = -eps log sum_i a_i exp((f_i - C_ij) / eps).
S_eps(a, b) = OT_eps(a, b) - OT_eps(a, a)/2 - OT_eps(b, b)/2  (Feydy et al. 2019): 0 at a = b,
>= 0, symmetric, and -> the exact OT cost W(a, b) as eps -> 0 (the entropic bias of the three terms
cancels to first order).

Weights are given as log-masses ``[..., n]`` (``-inf`` = zero mass) with cost ``[..., n, m]``; all
leading dims are batch dims (no Python loop over samples). The solver is the symmetric (Jacobi)
scheme f <- (f + T_b(g))/2, g <- (g + T_a(f))/2, both potentials updated from the same state, with
eps annealed geometrically from the cost's diameter down to ``epsilon`` (eps-scaling), then iterated
at ``epsilon`` until both marginals of the plan are within ``tol`` (L1) or ``max_iter`` is reached.
Swapping a and b swaps f and g step for step, so on a (bitwise) symmetric cost the value is symmetric
by construction, not only at convergence.

Gradients are exact for the computed value (whatever the iteration count): autograd differentiates
the unrolled iterations. On large problems (``[..., n, m]`` of 2^16 elements or more, e.g. the engine's
penalty over every token position) each iteration is checkpointed (``torch.utils.checkpoint``), so memory
is the ``[..., n]`` potentials per iteration plus one ``[..., n, m]`` step at a time in the backward
pass, never a ``[..., n, m]`` graph per iteration; small problems unroll plainly. The stopping rule is the only non-smooth part: the
iteration count is piecewise constant in the inputs. The cost is treated as data (no gradient).
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


def _eps_schedule(diameter: float, epsilon: float, scaling: float = 0.5) -> list[float]:
    """eps-scaling: diameter, diameter * scaling, ... down to epsilon (at least [epsilon])."""
    steps = []
    if diameter > epsilon:
        n = int(math.ceil(math.log(epsilon / diameter) / math.log(scaling)))
        steps = [diameter * scaling**k for k in range(n)]
    return steps + [epsilon]


def _sinkhorn_maps(eps: float, nc: torch.Tensor, nct: torch.Tensor, log_a: torch.Tensor, log_b: torch.Tensor,
                   f: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(T_b(g), T_a(f)): the Sinkhorn updates of f ``[..., n]`` and g ``[..., m]`` from the same state."""
    return _softmin_scaled(eps, nc, log_b + g / eps), _softmin_scaled(eps, nct, log_a + f / eps)


def _maps(eps, nc, nct, log_a, log_b, f, g):
    """:func:`_sinkhorn_maps`, checkpointed when differentiated on a large problem (one ``[..., n, m]``
    graph per iteration would be kept otherwise); small problems unroll plainly (checkpointing costs
    more than it saves there)."""
    if (nc.numel() >= _CHECKPOINT_NUMEL and torch.is_grad_enabled()
            and (log_a.requires_grad or log_b.requires_grad)):
        return checkpoint(_sinkhorn_maps, eps, nc, nct, log_a, log_b, f, g, use_reentrant=False)
    return _sinkhorn_maps(eps, nc, nct, log_a, log_b, f, g)
    return _sinkhorn_maps(eps, nc, nct, log_a, log_b, f, g)


def _marginal_error(log_w: torch.Tensor, pot: torch.Tensor, pot_new: torch.Tensor, eps: float) -> torch.Tensor:
    """L1 error of one marginal of the plan at the current potentials: sum_i w_i |exp((f_i - T(g)_i)/eps) - 1|."""
    return (log_w.exp() * torch.expm1((pot - pot_new) / eps).abs()).nan_to_num(0.0).sum(-1)


def _jacobi_ot(log_a: torch.Tensor, log_b: torch.Tensor, cost: torch.Tensor, cost_t: torch.Tensor, epsilon: float,
               max_iter: int, tol: float) -> torch.Tensor:
    """OT_eps(a, b) by the symmetric scheme; ``cost [..., n, m]``, ``cost_t [..., m, n]`` (detached)."""
    f = torch.zeros_like(log_a)  # [..., n]
    g = torch.zeros_like(log_b)  # [..., m]
    diameter = float(cost.max()) if cost.numel() else 0.0
    for eps in _eps_schedule(max(diameter, epsilon), epsilon)[:-1]:  # annealing: one averaged update per level
        fn, gn = _maps(eps, -cost / eps, -cost_t / eps, log_a, log_b, f, g)
        f, g = 0.5 * (f + fn), 0.5 * (g + gn)
    eps = epsilon
    nc = -cost / eps  # [..., n, m]
    nct = nc if cost_t is cost else -cost_t / eps  # a symmetric cost shares one matrix (bitwise symmetry)
    done = torch.zeros(f.shape[:-1], dtype=torch.bool, device=f.device)  # [...] rows already converged
    for it in range(max_iter):
        fn, gn = _maps(eps, nc, nct, log_a, log_b, f, g)
        step_f, step_g = 0.5 * (f + fn), 0.5 * (g + gn)
        now = torch.zeros_like(done)
        if it % _CHECK_EVERY == 0 or it == max_iter - 1:
            with torch.no_grad():
                err = torch.maximum(_marginal_error(log_a, f, fn, eps), _marginal_error(log_b, g, gn, eps))
                now = ~done & (err < tol)  # [...] converged at this check: finish with the plain step
            step_f = torch.where(now.unsqueeze(-1), fn, step_f)
            step_g = torch.where(now.unsqueeze(-1), gn, step_g)
        # converged rows stay frozen, so every row runs exactly the iterations it would run alone
        f = torch.where(done.unsqueeze(-1), f, step_f)
        g = torch.where(done.unsqueeze(-1), g, step_g)
        done = done | now
        if bool(done.all()):
            break
    # value: one more Sinkhorn step from the final state, <a, T_b(g)> + <b, T_a(f)>
    f_out, g_out = _maps(eps, nc, nct, log_a, log_b, f, g)
    return (log_a.exp() * f_out).sum(-1) + (log_b.exp() * g_out).sum(-1)


def entropic_ot(log_a: torch.Tensor, log_b: torch.Tensor, cost: torch.Tensor, epsilon: float,
                max_iter: int = 200, tol: float = 1e-4) -> torch.Tensor:
    """OT_eps(a, b) for log-weights ``[..., n]``, ``[..., m]`` and cost ``[..., n, m]`` -> ``[...]``.

    ``cost`` is treated as data (detached); gradients flow to ``log_a``/``log_b``.
    Weights must each sum to 1 (renormalise restricted masses first).
    """
    c = cost.detach()
    return _jacobi_ot(log_a, log_b, c, c.transpose(-1, -2), epsilon, max_iter, tol)


def sinkhorn_divergence(log_a: torch.Tensor, log_b: torch.Tensor, cost: torch.Tensor, epsilon: float,
                        max_iter: int = 200, tol: float = 1e-4) -> torch.Tensor:
    """Debiased S_eps(a, b) on a shared support: ``[..., n]`` weights, symmetric ``[..., n, n]`` cost.

    The cost is symmetrised bitwise ((C + C^T)/2) and the three problems (a, b), (a, a), (b, b) run as
    one stacked batch with a common stopping rule, so S_eps(a, b) and S_eps(b, a) run the same
    arithmetic with a and b exchanged: symmetric to rounding whatever ``tol`` and ``max_iter``.
    """
    c = cost.detach()
    c = 0.5 * (c + c.transpose(-1, -2))  # [..., n, n], exactly symmetric
    la = torch.stack([log_a, log_a, log_b])  # [3, ..., n]: (a, b), (a, a), (b, b)
    lb = torch.stack([log_b, log_a, log_b])
    ot = _jacobi_ot(la, lb, c.unsqueeze(0), c.unsqueeze(0), epsilon, max_iter, tol)  # [3, ...]
    s = (ot[0] - 0.5 * (ot[1] + ot[2])).clamp_min(0.0)
    # a == b (e.g. policy == reference at step 0): exactly 0, the minimum, with zero gradient
    same = (log_a.detach() == log_b.detach()).all(-1)  # [...]
    return torch.where(same, torch.zeros_like(s), s)
