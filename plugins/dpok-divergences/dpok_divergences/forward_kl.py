"""Forward KL: KL(q || p) = sum_v q_v (log q_v - log p_v), p = policy, q = reference."""

from __future__ import annotations

import torch

from dpok_framework.components import Params

from ._numerics import INF, capped_expm1, expm1mx, near_far
from .fdiv_base import FDivergence


class ForwardKLParams(Params):
    pass


class ForwardKL(FDivergence):
    """KL(pi_ref || pi): mass-covering; the policy is penalised for dropping reference mass.

    f(u) = -log u, f(0) = +inf, f*(0) = 0; link psi(r) = f'(exp r) = -exp(-r) (f-DPO "forward KL").
    p_v = 0 < q_v gives +inf; q_v = 0 terms contribute 0. Unbounded, asymmetric.
    """

    name = "forward_kl"
    summary = "KL(pi_ref || pi) (mass-covering); link psi(r) = -exp(-r)"
    Params = ForwardKLParams
    tilt = -1.0  # f'(1): terms q log(q/p) + p - q

    def f(self, u: torch.Tensor) -> torch.Tensor:
        return -torch.log(u)

    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        return -1.0 / u

    def f_zero(self) -> float:
        return INF

    def f_star_zero(self) -> float:
        return 0.0

    def interior(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        # q log(q/p) + p - q = q (e^d - 1 - d), d = log p - log q: >= 0 and second order near p = q
        q, d = logq.exp(), logp - logq
        return near_far(d, lambda dn: q * expm1mx(dn), lambda: logp.exp() - q - q * d)

    def link(self, r: torch.Tensor) -> torch.Tensor:
        return -1.0 - capped_expm1(-r)  # -exp(-r), tangent beyond -r = LINK_EXP_CAP
