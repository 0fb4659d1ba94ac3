"""Polynomial kernel K(x, y) = (scale * <x, y> + offset)^degree, on unit-normalised inputs by default."""

from __future__ import annotations

import torch
from pydantic import Field, PositiveFloat, model_validator

from dpok_framework.components import Kernel, Params

from ._geometry import check_pair

_EPS_NORM = 1e-12


class PolynomialParams(Params):
    degree: int = Field(2, ge=1, le=16, description="Integer degree d (higher degrees overfit more).")
    offset: float = Field(1.5, ge=0.0, description="Offset c >= 0 (PSD needs c >= 0).")
    scale: PositiveFloat = Field(1.0, description="Scale s of the inner product.")
    normalize: bool = Field(True, description="L2-normalise x and y first, so <x, y> = cos in [-1, 1] and "
                                              "K >= (c - s)^d > 0 when offset > scale.")

    @model_validator(mode="after")
    def _positive(self) -> "PolynomialParams":
        if self.normalize and not self.offset > self.scale:
            raise ValueError(
                f"polynomial kernel: with normalize=True, K = (scale*cos + offset)^degree must stay > 0 for "
                f"log K, which needs offset > scale; got offset={self.offset}, scale={self.scale}. "
                f"Set offset > scale (e.g. offset=1.5 with scale=1) or normalize=False.")
        return self


class PolynomialKernel(Kernel):
    """K(x, y) = (s * <u, v> + c)^d with u = x/||x||, v = y/||y|| (``normalize=True``) or u = x, v = y.

    PSD for integer d >= 1 and c >= 0 (products and sums of PSD kernels).  With normalisation and
    c > s, <u, v> in [-1, 1] gives (c - s)^d <= K <= (c + s)^d, so log K = d * log(s <u, v> + c) is
    always finite.  Without normalisation positivity is not guaranteed: the instance declares
    ``strictly_positive = False`` and :meth:`log_paired` raises on a non-positive base.
    Zero vectors normalise to 0 (<u, v> = 0).
    """

    name = "polynomial"
    summary = "(s <x/|x|, y/|y|> + c)^d; positive when c > s (local; can overfit at high degree)"
    group = "local"
    Params = PolynomialParams

    def __init__(self, params: PolynomialParams | None = None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.strictly_positive = self.params.normalize  # instance override of the class default

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        if not self.params.normalize:
            return x
        return x / x.norm(dim=-1, keepdim=True).clamp_min(_EPS_NORM)  # [n, d] unit rows

    def _inner(self, ip: torch.Tensor) -> torch.Tensor:
        # cosines can leave [-1, 1] by rounding; clamp so c - s > 0 really bounds the base below
        return ip.clamp(-1.0, 1.0) if self.params.normalize else ip

    def _base_paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_pair(self.name, x, y, paired=True)
        p = self.params
        return p.scale * self._inner((self._prep(x) * self._prep(y)).sum(-1)) + p.offset  # [n]

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_pair(self.name, x, y, paired=False)
        p = self.params
        return (p.scale * self._inner(self._prep(x) @ self._prep(y).T) + p.offset) ** p.degree  # [n, m]

    def paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._base_paired(x, y) ** self.params.degree  # [n]

    def log_paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        base = self._base_paired(x, y)  # [n]
        if not self.params.normalize and bool((base <= 0).any()):
            i = int((base <= 0).nonzero()[0, 0])
            raise ValueError(f"polynomial kernel: log K needs scale*<x, y> + offset > 0, but row {i} gives "
                             f"{float(base[i]):.4g}; use normalize=True with offset > scale")
        return self.params.degree * base.log()  # [n]

    def extra_repr(self) -> str:
        p = self.params
        return f"degree={p.degree}, offset={p.offset}, scale={p.scale}, normalize={p.normalize}"
