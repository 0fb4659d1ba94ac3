"""Gaussian RBF kernel K(x, y) = exp(-||x - y||^2 / (2 sigma^2)), the paper's default kernel."""

from __future__ import annotations

import math
from typing import Literal, Union

import torch
from pydantic import Field, PositiveFloat

from dpok_framework.components import Kernel, Params

from ._fitted import MedianFitted
from ._geometry import check_embeddings, check_pair, median_distance, sq_dist_paired, sq_dist_pairwise


class RBFParams(Params):
    sigma: Union[PositiveFloat, Literal["median"]] = Field(
        "median", description="Bandwidth sigma > 0, or `median`: the median pairwise distance of the "
                              "embeddings given to fit() (median heuristic).")
    learnable: bool = Field(False, description="Optimise log(sigma) with the policy (starts from the "
                                               "fitted/given value).")


class RBFKernel(MedianFitted, Kernel):
    """K(x, y) = exp(-||x - y||^2 / (2 sigma^2)).

    log K = -||x - y||^2 / (2 sigma^2) is computed directly, so the log-ratio never underflows.
    PSD for every sigma > 0 (Bochner: spectral density N(0, sigma^-2 I)), K(x, x) = 1, K > 0.
    ``sigma = "median"`` (default) sets sigma = median_{i<j} ||e_i - e_j|| in :meth:`fit`.
    sigma is stored as log(sigma) (a Parameter when ``learnable``), so it stays positive.
    """

    name = "rbf"
    median_param = "sigma"
    summary = "exp(-||x-y||^2 / 2 sigma^2); sigma by median heuristic (the paper's default kernel)"
    group = "local"
    shift_invariant = True
    Params = RBFParams

    def __init__(self, params: RBFParams | None = None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        sigma = self.params.sigma
        log_sigma = torch.tensor(0.0 if sigma == "median" else math.log(sigma), dtype=torch.float64)
        if self.params.learnable:
            self.log_sigma = torch.nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)
        self.fitted = sigma != "median"

    # -- data-dependent set-up ------------------------------------------------------------
    def fit(self, embeddings: torch.Tensor) -> "RBFKernel":
        """Median heuristic (only when ``sigma = "median"``; a numeric sigma is kept)."""
        e = check_embeddings(self.name, embeddings)
        if self.params.sigma == "median":
            with torch.no_grad():
                self.log_sigma.fill_(math.log(median_distance(e, self.name)))
            self.fitted = True
        return self

    def sigma(self) -> torch.Tensor:
        """Current bandwidth (scalar tensor)."""
        self._check_fitted()
        return self.log_sigma.exp()

    def _inv_two_sigma2(self, x: torch.Tensor) -> torch.Tensor:
        self._check_fitted()
        return 0.5 * torch.exp(-2.0 * self.log_sigma.to(x))  # scalar 1 / (2 sigma^2)

    # -- evaluation -----------------------------------------------------------------------
    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_pair(self.name, x, y, paired=False)
        return torch.exp(-sq_dist_pairwise(x, y) * self._inv_two_sigma2(x))  # [n, m]

    def log_paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_pair(self.name, x, y, paired=True)
        return -sq_dist_paired(x, y) * self._inv_two_sigma2(x)  # [n]

    def log_diag(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0])  # K(x, x) = 1

    def sample_frequencies(self, num_features: int, dim: int, generator: torch.Generator | None = None
                           ) -> tuple[torch.Tensor, float]:
        """omega ~ N(0, sigma^-2 I) (the normalised spectral density), k0 = 1."""
        sigma = float(self.sigma().detach())
        omega = torch.randn(num_features, dim, generator=generator, dtype=torch.float64) / sigma  # [D, dim]
        return omega, 1.0

    def extra_repr(self) -> str:
        return f"sigma={float(self.log_sigma.exp()):.4g}" if self.fitted else "sigma=median (unfitted)"
