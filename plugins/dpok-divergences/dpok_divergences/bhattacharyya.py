"""Bhattacharyya distance D_B(p, q) = -log BC(p, q), BC = sum_v sqrt(p_v q_v)."""

from __future__ import annotations

import torch

from dpok_framework.components import Divergence, Params

from ._numerics import INF, NEG_INF, check_pair, safe, sqrt_gap, support


class BhattacharyyaParams(Params):
    pass


class Bhattacharyya(Divergence):
    """Bhattacharyya distance -log BC(p, q) = -log(1 - H^2(p, q)), symmetric, in [0, inf].

    BC (the Bhattacharyya coefficient) measures the overlap of the two distributions; the distance
    is +inf only for exactly disjoint supports (returned as +inf with zero gradient). Not an
    f-divergence (a log of one), no f-DPO link: penalty use only. Equals Renyi of order 1/2 divided
    by 2. Numerics: -log1p(-H^2) with H^2 as a sum of squares while H^2 < 1/2 (exact 0 at p = q, no
    cancellation), -logsumexp_v((log p_v + log q_v)/2) beyond (no underflow of a tiny BC).
    """

    name = "bhattacharyya"
    summary = "Bhattacharyya distance -log sum sqrt(p q) (symmetric, overlap-based); penalty only"
    symmetric = True
    Params = BhattacharyyaParams

    def forward(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        logp, logq = check_pair(self.name, logp, logq)  # [..., V]
        both = support(logp) & support(logq)
        disjoint = ~both.any(-1)  # [...]
        h2 = 0.5 * sqrt_gap(logp, logq).pow(2).sum(-1)  # [...], squared Hellinger
        small = h2 < 0.5
        near = -torch.log1p(-torch.where(small, h2, torch.zeros_like(h2)))
        s = torch.where(both, 0.5 * (safe(logp, both) + safe(logq, both)), torch.full_like(logp, NEG_INF))
        s = torch.where(disjoint.unsqueeze(-1), torch.zeros_like(s), s)  # [..., V], finite grads if disjoint
        far = -torch.logsumexp(s, dim=-1)
        far = torch.where(disjoint, torch.full_like(far, INF), far)
        return torch.where(small, near, far).clamp_min(0.0)
