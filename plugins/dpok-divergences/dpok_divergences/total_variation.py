"""Total variation distance TV(p, q) = 1/2 sum_v |p_v - q_v| (a generator of ``f_divergence``)."""

from __future__ import annotations

import torch

from dpok_framework.components import Params
from dpok_framework.errors import ConfigError

from .fdiv_base import FDivergence


class TotalVariationParams(Params):
    pass


class TotalVariation(FDivergence):
    """Total variation, symmetric, in [0, 1].

    f(u) = |u - 1| / 2, f(0) = f*(0) = 1/2. Its f' = sign(u - 1)/2 is piecewise constant, so the
    f-DPO link would have zero gradient everywhere: ``has_link = False`` (penalty use only).
    """

    name = "total_variation"
    summary = "total variation 1/2 sum |p - q| (symmetric, in [0, 1]); no usable link"
    symmetric = True
    has_link = False
    Params = TotalVariationParams

    def f(self, u: torch.Tensor) -> torch.Tensor:
        return 0.5 * (u - 1.0).abs()

    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.sign(u - 1.0)

    def f_zero(self) -> float:
        return 0.5

    def f_star_zero(self) -> float:
        return 0.5

    def interior(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        return 0.5 * (logp.exp() - logq.exp()).abs()

    def link(self, r: torch.Tensor) -> torch.Tensor:
        raise ConfigError("total variation has no usable f-DPO link: f'(u) = sign(u - 1)/2 is piecewise constant, "
                          "so psi(r) would have zero gradient. Use it as divergence.penalty (alpha > 0), or pick "
                          "a link such as kl, js or hellinger")
