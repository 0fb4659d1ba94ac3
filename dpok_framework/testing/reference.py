"""Small, exact reference components the contract uses as candidates (selection metrics need a kernel or a
divergence to score) and that the scaffold's skeletons mirror.  Not registered anywhere."""

from __future__ import annotations

import torch
from pydantic import Field

from ..components import Divergence, Kernel, Params


class ReferenceRBFParams(Params):
    sigma: float = Field(1.0, gt=0.0, description="Bandwidth.")


class ReferenceRBF(Kernel):
    """K(x, y) = exp(-||x - y||^2 / (2 sigma^2)): PSD, strictly positive, shift-invariant (spectral density
    N(0, sigma^-2 I))."""

    name = "reference_rbf"
    summary = "reference Gaussian kernel (dpok_framework.testing)"
    shift_invariant = True
    Params = ReferenceRBFParams

    def pairwise(self, x, y):
        d2 = (x * x).sum(-1)[:, None] + (y * y).sum(-1)[None, :] - 2.0 * x @ y.T  # [n, m]
        return torch.exp(-d2.clamp_min(0.0) / (2.0 * self.params.sigma ** 2))

    def log_paired(self, x, y):
        return -((x - y) ** 2).sum(-1) / (2.0 * self.params.sigma ** 2)  # [n]

    def log_diag(self, x):
        return x.new_zeros(x.shape[0])

    def sample_frequencies(self, num_features, dim, generator=None):
        return torch.randn(num_features, dim, generator=generator, dtype=torch.float64) / self.params.sigma, 1.0


class ReferenceKL(Divergence):
    """KL(p || q) = sum_v p_v (log p_v - log q_v); +inf where p_v > 0 = q_v; f(u) = u log u, link r + 1."""

    name = "reference_kl"
    summary = "reference reverse KL (dpok_framework.testing)"
    is_f_divergence = True
    has_link = True

    def forward(self, logp, logq):
        p = logp.exp()  # [..., V]
        safe_q = torch.where(p > 0, logq, torch.zeros_like(logq))
        terms = torch.where(p > 0, p * (torch.where(p > 0, logp, torch.zeros_like(logp)) - safe_q),
                            torch.zeros_like(p))
        return terms.sum(-1)

    def link(self, r):
        return r + 1.0
