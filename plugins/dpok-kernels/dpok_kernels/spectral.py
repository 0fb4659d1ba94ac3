"""Spectral kernel: a positive mixture of Gaussians at several bandwidths (learnable weights and bandwidths)."""

from __future__ import annotations

import math
from typing import Literal, Optional, Union

import torch
from pydantic import Field, PositiveFloat, model_validator

from dpok_framework.components import Kernel, Params

from ._fitted import MedianFitted
from ._geometry import check_embeddings, check_pair, median_distance, sq_dist_paired, sq_dist_pairwise


class SpectralParams(Params):
    bandwidths: tuple[PositiveFloat, ...] = Field(
        (0.5, 1.0, 2.0), min_length=1, max_length=32,
        description="Bandwidth of each Gaussian component, as a multiple of `scale`.")
    weights: Optional[tuple[PositiveFloat, ...]] = Field(
        None, description="Initial positive component weights (renormalised to sum 1); default uniform.")
    scale: Union[PositiveFloat, Literal["median"]] = Field(
        "median", description="Length unit of the bandwidths, or `median` (median pairwise distance of "
                              "the embeddings given to fit()).")
    learnable: bool = Field(True, description="Optimise the weight logits and log-bandwidths.")

    @model_validator(mode="after")
    def _lengths(self) -> "SpectralParams":
        if self.weights is not None and len(self.weights) != len(self.bandwidths):
            raise ValueError(f"spectral kernel: weights has {len(self.weights)} entries but bandwidths has "
                             f"{len(self.bandwidths)}; give one weight per bandwidth")
        return self


class SpectralKernel(MedianFitted, Kernel):
    """K(x, y) = sum_k w_k exp(-||x - y||^2 / (2 sigma_k^2)),  w = softmax(theta),  sigma_k = exp(s_k).

    A Gaussian-mixture spectral density centred at 0 (the authors' "spectral" kernel, made positive):
    PSD and K > 0 for all weights/bandwidths, K(x, x) = sum_k w_k = 1 (the log-ratio is invariant to
    the overall scale, so normalising the weights loses nothing).  log K is a logsumexp over
    components, stable at any distance.  Initial sigma_k = bandwidths[k] * scale.
    """

    name = "spectral"
    median_param = "scale"
    summary = "sum_k w_k exp(-||x-y||^2 / 2 sigma_k^2), learnable w (softmax) and sigma_k (global)"
    group = "global"
    shift_invariant = True
    Params = SpectralParams

    def __init__(self, params: SpectralParams | None = None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        p = self.params
        init = p.weights if p.weights is not None else [1.0] * len(p.bandwidths)
        w = torch.tensor(init, dtype=torch.float64)  # [K]; hyper-parameters live in float64, cast at use
        theta = (w / w.sum()).log()  # [K] logits whose softmax is the normalised initial weights
        unit = 1.0 if p.scale == "median" else float(p.scale)
        log_bw = torch.tensor([math.log(b * unit) for b in p.bandwidths], dtype=torch.float64)  # [K]
        if p.learnable:
            self.weight_logits = torch.nn.Parameter(theta)
            self.log_bandwidths = torch.nn.Parameter(log_bw)
        else:
            self.register_buffer("weight_logits", theta)
            self.register_buffer("log_bandwidths", log_bw)
        self.fitted = p.scale != "median"

    def fit(self, embeddings: torch.Tensor) -> "SpectralKernel":
        """With ``scale = "median"``: sigma_k = bandwidths[k] * median pairwise distance."""
        e = check_embeddings(self.name, embeddings)
        if self.params.scale == "median":
            med = median_distance(e, self.name)
            with torch.no_grad():
                self.log_bandwidths.copy_(torch.tensor([math.log(b * med) for b in self.params.bandwidths],
                                                     dtype=torch.float64))
            self.fitted = True
        return self

    def weights(self) -> torch.Tensor:
        """``[K]`` current component weights (sum 1)."""
        return torch.softmax(self.weight_logits, -1)

    def bandwidths(self) -> torch.Tensor:
        """``[K]`` current bandwidths sigma_k."""
        self._check_fitted()
        return self.log_bandwidths.exp()

    def _coefs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_fitted()
        log_w = torch.log_softmax(self.weight_logits.to(x), -1)  # [K]
        inv = 0.5 * torch.exp(-2.0 * self.log_bandwidths.to(x))  # [K] 1 / (2 sigma_k^2)
        return log_w, inv

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_pair(self.name, x, y, paired=False)
        log_w, inv = self._coefs(x)
        d2 = sq_dist_pairwise(x, y)  # [n, m]
        return torch.exp(log_w[:, None, None] - d2[None] * inv[:, None, None]).sum(0)  # [K, n, m] -> [n, m]

    def log_paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_pair(self.name, x, y, paired=True)
        log_w, inv = self._coefs(x)
        d2 = sq_dist_paired(x, y)  # [n]
        return torch.logsumexp(log_w[None, :] - d2[:, None] * inv[None, :], dim=-1)  # [n, K] -> [n]

    def log_diag(self, x: torch.Tensor) -> torch.Tensor:
        # K(x, x) = sum_k w_k = 1; written through the logits so it is exact under any parametrisation
        return torch.logsumexp(torch.log_softmax(self.weight_logits.to(x), -1), -1).expand(x.shape[0])

    def sample_frequencies(self, num_features: int, dim: int, generator: torch.Generator | None = None
                           ) -> tuple[torch.Tensor, float]:
        """Component k ~ Categorical(w), then omega ~ N(0, sigma_k^-2 I); k0 = sum_k w_k = 1."""
        w = self.weights().detach().to(torch.float64).cpu()  # [K]
        sig = self.bandwidths().detach().to(torch.float64).cpu()  # [K]
        comp = torch.multinomial(w, num_features, replacement=True, generator=generator)  # [D]
        omega = torch.randn(num_features, dim, generator=generator, dtype=torch.float64)  # [D, dim]
        return omega / sig[comp][:, None], 1.0

    def extra_repr(self) -> str:
        w = ", ".join(f"{v:.3g}" for v in self.weights().tolist())
        if not self.fitted:
            return f"weights=[{w}], scale=median (unfitted)"
        b = ", ".join(f"{v:.3g}" for v in self.log_bandwidths.exp().tolist())
        return f"weights=[{w}], bandwidths=[{b}]"
