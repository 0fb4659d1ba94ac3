"""Amari alpha-divergence in the f-DPO parametrisation (a generator of ``f_divergence``)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator

from dpok_framework.components import Params

from ._numerics import INF, LINK_EXP_CAP, capped_expm1, expm1mx, near_far
from .fdiv_base import FDivergence


Convention = Literal["paper", "trl"]
CONVENTION_HELP = ("How `alpha` is read. paper: the order a of Wang et al. 2023 (f-DPO), link "
                   "psi(r) = (1 - e^(-a r))/a. trl: TRL 1.16's `f_alpha_divergence_coef` alpha_T, whose link "
                   "(e^((alpha_T - 1) r) - 1)/(alpha_T - 1) is the paper's with a = 1 - alpha_T.")


def order_of(alpha: float, convention: str) -> float:
    """The paper's order a from a configured ``alpha`` (TRL's coefficient maps to a = 1 - alpha_T)."""
    if convention == "trl":
        if alpha in (0.0, 1.0):
            raise ValueError(f"alpha = {alpha:g} with convention 'trl' is TRL's "
                             f"{'reverse' if alpha == 1.0 else 'forward'} KL limit (a = {1.0 - alpha:g}); "
                             f"use f='{'kl' if alpha == 1.0 else 'forward_kl'}' instead")
        return 1.0 - alpha
    return alpha


def check_finite(v: float) -> float:
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError("alpha must be a finite number")
    return v


def check_alpha(v: float) -> float:
    """Validate an alpha-divergence order (the paper's a): finite, not 0 or 1 (the KL limits)."""
    check_finite(v)
    if v in (0.0, 1.0):
        raise ValueError(f"alpha = {v:g} is the KL limit of the family and divides by zero here; use "
                         f"f='kl' (alpha -> 0) or f='forward_kl' (alpha -> 1) instead")
    return v


class AlphaParams(Params):
    alpha: float = Field(0.5, description="Order alpha (any real except 0 and 1). alpha -> 0 tends to "
                                          "KL(p||q), alpha -> 1 to KL(q||p), alpha = 1/2 is 4 x squared Hellinger.")
    convention: Convention = Field("paper", description=CONVENTION_HELP)

    @model_validator(mode="after")
    def _check_order(self) -> "AlphaParams":
        check_alpha(order_of(check_finite(self.alpha), self.convention))
        return self


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
        self.a = order_of(self.params.alpha, self.params.convention)  # the paper's order
        self.symmetric = self.a == 0.5
        self.link_exact_within = LINK_EXP_CAP / abs(self.a)  # capped_expm1(-a r) is exact while |a r| <= cap

    def f(self, u: torch.Tensor) -> torch.Tensor:
        a = self.a
        return (u.pow(1.0 - a) - (1.0 - a) * u - a) / (a * (a - 1.0))

    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        a = self.a
        return (1.0 - u.pow(-a)) / a

    def f_zero(self) -> float:
        a = self.a
        return 1.0 / (1.0 - a) if a < 1.0 else INF

    def f_star_zero(self) -> float:
        a = self.a
        return 1.0 / a if a > 0.0 else INF

    def interior(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        a = self.a
        d = logp - logq  # near p = q: q [phi((1-a) d) - (1-a) phi(d)] / (a (a-1)), phi(t) = e^t - 1 - t

        def far() -> torch.Tensor:
            mixed = torch.exp((1.0 - a) * logp + a * logq)  # p^(1-a) q^a
            return (mixed - (1.0 - a) * logp.exp() - a * logq.exp()) / (a * (a - 1.0))

        return near_far(d, lambda dn: logq.exp() * (expm1mx((1.0 - a) * dn) - (1.0 - a) * expm1mx(dn)) / (a * (a - 1.0)),
                        far)

    def link(self, r: torch.Tensor) -> torch.Tensor:
        a = self.a
        return -capped_expm1(-a * r) / a
