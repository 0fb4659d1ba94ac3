"""Kullback-Leibler divergence KL(p || q) = sum_v p_v (log p_v - log q_v)."""

from __future__ import annotations

import torch

from dpok_framework.components import Params

from ._numerics import INF, expm1mx, near_far
from .fdiv_base import FDivergence


class KLParams(Params):
    pass


class KL(FDivergence):
    """KL(p || q) with p the policy: the divergence RLHF/DPO regularise with ("reverse KL" in f-DPO).

    f(u) = u log u, f(0) = 0, f*(0) = +inf; link psi(r) = f'(exp r) = r + 1 (the constant cancels
    in the margin, giving DPO). Terms with p_v = 0 contribute 0; p_v > 0 with q_v = 0 gives +inf.
    Unbounded, asymmetric; mode-seeking for the policy.
    """

    name = "kl"
    summary = "KL(pi || pi_ref); link psi(r) = r (plain DPO)"
    Params = KLParams
    tilt = 1.0  # f'(1): terms p log(p/q) - p + q

    def f(self, u: torch.Tensor) -> torch.Tensor:
        return torch.xlogy(u, u)

    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        return torch.log(u) + 1.0

    def f_zero(self) -> float:
        return 0.0

    def f_star_zero(self) -> float:
        return INF

    def interior(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        # p log(p/q) - p + q = p (e^-d - 1 + d), d = log p - log q: >= 0 and second order near p = q
        p, d = logp.exp(), logp - logq
        return near_far(d, lambda dn: p * expm1mx(-dn), lambda: p * (d - 1.0) + logq.exp())

    def link(self, r: torch.Tensor) -> torch.Tensor:
        return r + 1.0
