"""Kullback-Leibler divergence KL(p || q) = sum_v p_v (log p_v - log q_v)."""

from __future__ import annotations

import torch

from dpok_framework.components import Divergence, Params


class KLParams(Params):
    pass


class KL(Divergence):
    """KL(p || q) with p the policy: the divergence RLHF/DPO regularise with ("reverse KL" in f-DPO).

    f(u) = u log u, link psi(r) = f'(exp r) = r + 1 (the constant cancels in the margin, giving DPO).
    Terms with p_v = 0 contribute 0; p_v > 0 with q_v = 0 gives +inf.
    """

    name = "kl"
    summary = "KL(pi || pi_ref); link psi(r) = r (plain DPO)"
    is_f_divergence = True
    has_link = True
    Params = KLParams

    def forward(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        p = logp.exp()
        diff = torch.where(p > 0, logp - logq, torch.zeros_like(logp))  # avoids 0 * (-inf - x) = nan
        return (p * diff).sum(-1)

    def link(self, r: torch.Tensor) -> torch.Tensor:
        return r + 1.0
