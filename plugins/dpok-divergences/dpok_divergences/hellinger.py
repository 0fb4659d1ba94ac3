"""Squared Hellinger distance H^2(p, q) = 1/2 sum_v (sqrt p_v - sqrt q_v)^2 = 1 - BC(p, q)."""

from __future__ import annotations

import torch

from dpok_framework.components import Params

from ._numerics import capped_expm1, sqrt_gap
from .fdiv_base import FDivergence


class HellingerParams(Params):
    pass


class Hellinger(FDivergence):
    """Squared Hellinger distance, symmetric, in [0, 1] (1 exactly on disjoint supports).

    f(u) = (sqrt(u) - 1)^2 / 2,  f(0) = f*(0) = 1/2,  BC = sum_v sqrt(p_v q_v) (Bhattacharyya
    coefficient). Link psi(r) = f'(exp r) = (1 - exp(-r/2)) / 2 (the alpha-divergence link at
    alpha = 1/2, scaled by 1/4). Computed as a sum of squares, so it is exactly 0 at p = q.
    """

    name = "hellinger"
    summary = "squared Hellinger 1 - BC (symmetric, in [0, 1]); link psi(r) = (1 - e^(-r/2))/2"
    symmetric = True
    Params = HellingerParams

    def f(self, u: torch.Tensor) -> torch.Tensor:
        return 0.5 * (torch.sqrt(u) - 1.0) ** 2

    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        return 0.5 * (1.0 - torch.rsqrt(u))

    def f_zero(self) -> float:
        return 0.5

    def f_star_zero(self) -> float:
        return 0.5

    def interior(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        return 0.5 * sqrt_gap(logp, logq) ** 2

    def link(self, r: torch.Tensor) -> torch.Tensor:
        return -0.5 * capped_expm1(-0.5 * r)
