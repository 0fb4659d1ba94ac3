"""Jensen-Shannon divergence JS(p, q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q)/2 (natural log)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dpok_framework.components import Params

from ._numerics import LOG2, NEAR, near_far
from .fdiv_base import FDivergence


class JSParams(Params):
    pass


class JS(FDivergence):
    """Jensen-Shannon divergence, symmetric and bounded by log 2 (finite on disjoint supports).

    f(u) = 1/2 [u log u - (u + 1) log((u + 1)/2)],  f(0) = f*(0) = log(2)/2.
    Link: f-DPO's JS link psi(r) = log 2 - log(1 + exp(-r)) = 2 f'(exp r) (``link_scale = 2``; TRL's
    ``js_divergence``), computed with softplus. Equals ``scipy.spatial.distance.jensenshannon(p, q)**2``.
    """

    name = "js"
    summary = "Jensen-Shannon (symmetric, <= log 2); link psi(r) = log 2 - log(1 + e^-r)"
    symmetric = True
    link_scale = 2.0
    Params = JSParams

    def f(self, u: torch.Tensor) -> torch.Tensor:
        return 0.5 * (torch.xlogy(u, u) - torch.xlogy(u + 1.0, (u + 1.0) / 2.0))

    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        return 0.5 * (LOG2 + torch.log(u) - torch.log1p(u))  # 1/2 log(2u / (1 + u))

    def f_zero(self) -> float:
        return 0.5 * LOG2

    def f_star_zero(self) -> float:
        return 0.5 * LOG2

    def interior(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        # with m = (p + q)/2 and x = (log p - log q)/2 the term is m (x tanh x - log cosh x) >= 0; the
        # p log(p/m) + q log(q/m) form cancels to rounding in float32 near p = q
        m = torch.exp(torch.logaddexp(logp, logq) - LOG2)  # [..., V]
        x = 0.5 * (logp - logq)

        def far() -> torch.Tensor:  # log 2 - softplus(-2|x|) - 2|x| sigmoid(-2|x|), |x| >= 1
            ax = x.abs().clamp(min=NEAR)
            return LOG2 - F.softplus(-2.0 * ax) - 2.0 * ax * torch.sigmoid(-2.0 * ax)

        return m * near_far(x, lambda xn: xn * torch.tanh(xn) - torch.log1p(2.0 * torch.sinh(0.5 * xn) ** 2), far)

    def link(self, r: torch.Tensor) -> torch.Tensor:
        return LOG2 - F.softplus(-r)
