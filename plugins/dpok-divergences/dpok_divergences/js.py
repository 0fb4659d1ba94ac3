"""Jensen-Shannon divergence JS(p, q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q)/2 (natural log)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dpok_framework.components import Params

from ._numerics import LOG2
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
        logm = torch.logaddexp(logp, logq) - LOG2  # log (p + q)/2, [..., V]
        return 0.5 * (logp.exp() * (logp - logm) + logq.exp() * (logq - logm))

    def link(self, r: torch.Tensor) -> torch.Tensor:
        return LOG2 - F.softplus(-r)
