"""Amari alpha-divergence in the f-DPO parametrisation (a generator of ``f_divergence``)."""

from __future__ import annotations

import torch
from pydantic import Field, field_validator

from dpok_framework.components import Params

from ._numerics import INF
from .fdiv_base import FDivergence


def check_alpha(v: float) -> float:
    """Validate an alpha-divergence order: finite, not 0 or 1 (the KL limits)."""
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError("alpha must be a finite number")
    if v in (0.0, 1.0):
        raise ValueError(f"alpha = {v:g} is the KL limit of the family and divides by zero here; use "
                         f"f='kl' (alpha -> 0) or f='forward_kl' (alpha -> 1) instead")
    return v


class AlphaParams(Params):
    alpha: float = Field(0.5, description="Order alpha (any real except 0 and 1). alpha -> 0 tends to "
                                          "KL(p||q), alpha -> 1 to KL(q||p), alpha = 1/2 is 4 x squared Hellinger.")

    @field_validator("alpha")
    @classmethod
    def _check_alpha(cls, v: float) -> float:
        return check_alpha(v)


class AlphaDivergence(FDivergence):
    """D_alpha(p || q) = sum_v (p_v^(1-a) q_v^a - (1-a) p_v - a q_v) / (a (a - 1)).

    f(u) = (u^(1-a) - (1-a) u - a) / (a (a - 1)),  f'(u) = (1 - u^(-a)) / a, so the f-DPO link is
    psi(r) = (1 - exp(-a r)) / a (Wang et al. 2023; TRL ``alpha_divergence``). f(0) = 1/(1-a) for
    a < 1 (+inf for a > 1); f*(0) = 1/a for a > 0 (+inf for a < 0). Hence bounded by
    1/a + 1/(1-a) for 0 < a < 1; symmetric only at a = 1/2 (where it is 4 H^2).
    """

    name = "alpha"
    summary = "alpha-divergence; link psi(r) = (1 - e^(-alpha r))/alpha"
    Params = AlphaParams

    def _setup(self) -> None:
        self.symmetric = self.params.alpha == 0.5

    def f(self, u: torch.Tensor) -> torch.Tensor:
        a = self.params.alpha
        return (u.pow(1.0 - a) - (1.0 - a) * u - a) / (a * (a - 1.0))

    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        a = self.params.alpha
        return (1.0 - u.pow(-a)) / a

    def f_zero(self) -> float:
        a = self.params.alpha
        return 1.0 / (1.0 - a) if a < 1.0 else INF

    def f_star_zero(self) -> float:
        a = self.params.alpha
        return 1.0 / a if a > 0.0 else INF

    def interior(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        a = self.params.alpha
        mixed = torch.exp((1.0 - a) * logp + a * logq)  # p^(1-a) q^a
        return (mixed - (1.0 - a) * logp.exp() - a * logq.exp()) / (a * (a - 1.0))

    def link(self, r: torch.Tensor) -> torch.Tensor:
        a = self.params.alpha
        return -torch.expm1(-a * r) / a
