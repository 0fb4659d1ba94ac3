"""Pearson and Neyman chi-squared divergences (generators of ``f_divergence``)."""

from __future__ import annotations

import torch

from dpok_framework.components import Params

from ._numerics import INF, LINK_EXP_CAP, capped_expm1, near_far
from .fdiv_base import FDivergence


class Chi2Params(Params):
    pass


class PearsonChi2(FDivergence):
    """Pearson chi^2(p || q) = sum_v (p_v - q_v)^2 / q_v.

    f(u) = (u - 1)^2, f(0) = 1, f*(0) = +inf (infinite where q_v = 0 < p_v); link
    psi(r) = 2 (exp(r) - 1). Very sensitive to policy mass where the reference has little.
    """

    name = "pearson_chi2"
    summary = "Pearson chi^2 sum (p-q)^2/q; link 2(e^r - 1)"
    Params = Chi2Params

    def f(self, u: torch.Tensor) -> torch.Tensor:
        return (u - 1.0) ** 2

    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        return 2.0 * (u - 1.0)

    def f_zero(self) -> float:
        return 1.0

    def f_star_zero(self) -> float:
        return INF

    def interior(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        d = logp - logq  # q (e^d - 1)^2 near p = q (no cancellation in p - q)
        return near_far(d, lambda dn: logq.exp() * torch.expm1(dn) ** 2,
                        lambda: (logp.exp() - logq.exp()) ** 2 * torch.exp(-logq))

    def link(self, r: torch.Tensor) -> torch.Tensor:
        return 2.0 * capped_expm1(r)


class NeymanChi2(FDivergence):
    """Neyman chi^2(p || q) = sum_v (p_v - q_v)^2 / p_v (Pearson with the arguments swapped).

    f(u) = (1 - u)^2 / u, f(0) = +inf (infinite where p_v = 0 < q_v), f*(0) = 1; link
    psi(r) = 1 - exp(-2 r).
    """

    name = "neyman_chi2"
    summary = "Neyman chi^2 sum (p-q)^2/p; link 1 - e^(-2r)"
    Params = Chi2Params
    link_exact_within = LINK_EXP_CAP / 2.0  # the exponent is -2 r

    def f(self, u: torch.Tensor) -> torch.Tensor:
        return (1.0 - u) ** 2 / u

    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        return 1.0 - u.pow(-2)

    def f_zero(self) -> float:
        return INF

    def f_star_zero(self) -> float:
        return 1.0

    def interior(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        d = logp - logq  # p (e^-d - 1)^2 near p = q
        return near_far(d, lambda dn: logp.exp() * torch.expm1(-dn) ** 2,
                        lambda: (logp.exp() - logq.exp()) ** 2 * torch.exp(-logp))

    def link(self, r: torch.Tensor) -> torch.Tensor:
        return -capped_expm1(-2.0 * r)
