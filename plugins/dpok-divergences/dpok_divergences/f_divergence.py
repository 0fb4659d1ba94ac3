"""``f_divergence``: a generic f-divergence selected by the name of a built-in generator f.

Custom generators do not go through this component: subclass :class:`FDivergence` and register the
subclass from a plugin (see ``fdiv_base``).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator

from dpok_framework.components import Params
from dpok_framework.errors import ConfigError

from .alpha import AlphaDivergence, AlphaParams, Convention, check_alpha, check_finite, order_of
from .chi2 import NeymanChi2, PearsonChi2
from .fdiv_base import FDivergence
from .forward_kl import ForwardKL
from .hellinger import Hellinger
from .js import JS
from .kl import KL
from .total_variation import TotalVariation

GENERATORS: dict[str, type[FDivergence]] = {
    "kl": KL,
    "forward_kl": ForwardKL,
    "js": JS,
    "hellinger": Hellinger,
    "pearson_chi2": PearsonChi2,
    "neyman_chi2": NeymanChi2,
    "total_variation": TotalVariation,
    "alpha": AlphaDivergence,
}

Generator = Literal["kl", "forward_kl", "js", "hellinger", "pearson_chi2", "neyman_chi2", "total_variation",
                    "alpha"]


class FDivergenceParams(Params):
    f: Generator = Field("kl", description="Built-in generator: kl = KL(p||q) (u log u), forward_kl = KL(q||p) "
                                           "(-log u), js, hellinger (squared, (sqrt u - 1)^2/2), pearson_chi2 "
                                           "((u-1)^2), neyman_chi2 ((1-u)^2/u), total_variation (|u-1|/2), "
                                           "alpha (needs `alpha`).")
    alpha: float = AlphaParams.model_fields["alpha"]
    convention: Convention = AlphaParams.model_fields["convention"]

    @model_validator(mode="after")
    def _alpha_only_for_alpha(self) -> "FDivergenceParams":
        for key in ("alpha", "convention"):
            if key in self.model_fields_set and self.f != "alpha":
                raise ValueError(f"`{key}` only applies to f='alpha' (got f={self.f!r}); remove it or set f: alpha")
        check_alpha(order_of(check_finite(self.alpha), self.convention))
        return self


class NamedFDivergence(FDivergence):
    """D_f(p || q) = sum_v q_v f(p_v / q_v) for the generator named by ``params.f``.

    Delegates to the generator's own class (so ``f_divergence`` with ``f: js`` computes exactly what
    ``js`` does) and takes over its axioms: symmetric for js/hellinger/total_variation/alpha = 1/2,
    bounded by f(0) + f*(0) where finite, no link for total_variation. +inf on disjoint supports:
    kl, forward_kl, pearson_chi2, neyman_chi2 and alpha outside (0, 1).
    """

    name = "f_divergence"
    summary = "generic f-divergence sum q f(p/q) with a named generator (kl, js, chi2, alpha, ...)"
    Params = FDivergenceParams

    @classmethod
    def has_link_for(cls, params: FDivergenceParams) -> bool:
        return GENERATORS[params.f].has_link

    def _setup(self) -> None:
        cls = GENERATORS[self.params.f]
        self.generator = (cls(alpha=self.params.alpha, convention=self.params.convention)
                          if cls is AlphaDivergence else cls())
        self.symmetric = self.generator.symmetric
        self.upper_bound = self.generator.upper_bound
        self.has_link = self.generator.has_link
        self.link_scale = self.generator.link_scale
        self.link_exact_within = self.generator.link_exact_within
        self.tilt = self.generator.tilt

    def f(self, u: torch.Tensor) -> torch.Tensor:
        return self.generator.f(u)

    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        return self.generator.f_prime(u)

    def f_zero(self) -> float:
        return self.generator.f_zero()

    def f_star_zero(self) -> float:
        return self.generator.f_star_zero()

    def interior(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        return self.generator.interior(logp, logq)

    def link(self, r: torch.Tensor) -> torch.Tensor:
        if not self.has_link:
            raise ConfigError(f"f_divergence with f={self.params.f!r} has no usable f-DPO link; use it as "
                              f"divergence.penalty, or choose another generator for divergence.link")
        return self.generator.link(r)
