"""Mahalanobis kernel K(x, y) = exp(-(x - y)^T S^-1 (x - y) / (2 h^2)), S a shrunk embedding covariance."""

from __future__ import annotations

import math
from typing import Literal, Union

import torch
from pydantic import Field, PositiveFloat, field_validator

from dpok_framework.components import Kernel, Params

from ._covariance import guarded_cholesky, shrunk_covariance
from ._geometry import (check_embeddings, check_pair, median_distance, median_subsample, sq_dist_paired,
                        sq_dist_pairwise)


class MahalanobisParams(Params):
    shrinkage: Union[Literal["ledoit_wolf"], float] = Field(
        "ledoit_wolf", description="Shrinkage delta of S towards tr(S)/d * I: a number in [0, 1] or "
                                   "`ledoit_wolf` (optimal delta estimated from the embeddings).")
    jitter: float = Field(1e-6, ge=0.0, le=1e-2, description="Relative ridge added to S before the Cholesky "
                                                             "factorisation (times the mean diagonal).")
    bandwidth: Union[PositiveFloat, Literal["median"]] = Field(
        1.0, description="h in exp(-d_S(x,y)^2 / 2h^2); 1.0 is the paper's formula, `median` sets h to the "
                         "median Mahalanobis distance of the fit embeddings (useful at large d).")

    @field_validator("shrinkage")
    @classmethod
    def _unit_interval(cls, v):
        if isinstance(v, float) and not 0.0 <= v <= 1.0:
            raise ValueError(f"shrinkage must be in [0, 1] or 'ledoit_wolf', got {v}")
        return v


class MahalanobisKernel(Kernel):
    """K(x, y) = exp(-1/2 (x - y)^T S^-1 (x - y) / h^2),  S = L L^T (Cholesky).

    log K = -||L^-1 (x - y)||^2 / (2 h^2) is computed with a triangular solve (O(B d^2) per batch,
    S^-1 is never formed).  PSD and K > 0 for any positive-definite S (an RBF in whitened coordinates).
    :meth:`fit` estimates S = (1 - delta) S_hat + delta tr(S_hat)/d I from embeddings (Ledoit-Wolf delta
    by default) so S is invertible even when N < d.  :meth:`set_covariance` takes S from elsewhere (a
    differentially private release); fit() then keeps it and only fits ``bandwidth = "median"``.
    Either order works: after fit(), set_covariance() refits a median bandwidth under the new S.
    """

    name = "mahalanobis"
    summary = "exp(-(x-y)^T S^-1 (x-y) / 2), S = shrunk embedding covariance or a DP release (global)"
    group = "global"
    shift_invariant = True
    uses_covariance = True
    Params = MahalanobisParams

    def __init__(self, params: MahalanobisParams | None = None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.register_buffer("chol", None)  # [d, d] lower Cholesky factor of S, float64
        self.register_buffer("mean", None)  # [d] embedding mean (informational; K is shift-invariant)
        bw = self.params.bandwidth
        self.register_buffer("log_bandwidth", torch.tensor(0.0 if bw == "median" else math.log(bw),
                                                        dtype=torch.float64))
        self.covariance_fixed = False  # True after set_covariance(): fit() must not overwrite S
        self.shrinkage_used: float | None = None
        self._bandwidth_fitted = bw != "median"
        self._chol_cache: tuple | None = None
        self._median_sample: torch.Tensor | None = None  # fit rows kept (in memory only) to refit h after set_covariance

    # -- data-dependent set-up ------------------------------------------------------------
    def set_covariance(self, cov: torch.Tensor, mean: torch.Tensor | None = None) -> "MahalanobisKernel":
        """Use ``cov [d, d]`` as S as-is (symmetrised; a tiny jitter only if Cholesky needs it)."""
        self.chol = guarded_cholesky(cov, 0.0, self.name, "set_covariance(cov)")
        if mean is not None and mean.shape != (cov.shape[0],):
            raise ValueError(f"{self.name} kernel: mean must have shape [{cov.shape[0]}], got {tuple(mean.shape)}")
        # replace, never keep, a mean from an earlier fit(): it is a non-private statistic of the data
        self.mean = None if mean is None else mean.detach().to(torch.float64)
        self.covariance_fixed = True
        self.shrinkage_used = None
        if self._median_sample is not None:  # fit() ran first: the median bandwidth follows the new metric
            self._fit_bandwidth(self._median_sample)
        return self

    def fit(self, embeddings: torch.Tensor) -> "MahalanobisKernel":
        e = check_embeddings(self.name, embeddings)
        if self.covariance_fixed:
            if e.shape[1] != self.chol.shape[0]:
                raise ValueError(f"{self.name} kernel: fit() embeddings have d={e.shape[1]} but the covariance "
                                 f"given to set_covariance() is {self.chol.shape[0]}x{self.chol.shape[0]}")
        else:
            cov, mean, delta = shrunk_covariance(e, self.params.shrinkage)
            self.chol = guarded_cholesky(cov, self.params.jitter, self.name, "the fitted covariance")
            self.mean = mean
            self.shrinkage_used = delta
        if self.params.bandwidth == "median":
            self._median_sample = median_subsample(e)
            self._fit_bandwidth(self._median_sample)
        return self

    def _fit_bandwidth(self, e: torch.Tensor) -> None:
        """h = median whitened distance of ``e`` under the current S."""
        with torch.no_grad():
            self.log_bandwidth.fill_(math.log(median_distance(self.whiten(e), self.name)))
        self._bandwidth_fitted = True

    # checkpointing: flags travel as extra state; the lazily-sized buffers are allocated before loading
    # (a tensor [covariance_fixed, bandwidth_fitted, shrinkage_used or NaN]: checkpoints need tensor values)
    def get_extra_state(self) -> torch.Tensor:
        shrink = math.nan if self.shrinkage_used is None else self.shrinkage_used
        return torch.tensor([float(self.covariance_fixed), float(self._bandwidth_fitted), shrink], dtype=torch.float64)

    def set_extra_state(self, state: torch.Tensor) -> None:
        fixed, bw_fitted, shrink = (float(v) for v in state)
        self.covariance_fixed = fixed > 0.5
        self._bandwidth_fitted = bw_fitted > 0.5
        self.shrinkage_used = None if math.isnan(shrink) else shrink

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for key in ("chol", "mean"):
            t = state_dict.get(prefix + key)
            if t is not None and (getattr(self, key) is None or getattr(self, key).shape != t.shape):
                setattr(self, key, torch.empty_like(t))
        if prefix + "chol" in state_dict and prefix + "mean" not in state_dict:
            self.mean = None  # saved after set_covariance(cov) without a mean: the mean is informational only
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def covariance(self) -> torch.Tensor:
        """``[d, d]`` the S in use (L L^T)."""
        self._check_fitted()
        return self.chol @ self.chol.T

    def _check_fitted(self, x: torch.Tensor | None = None) -> None:
        if self.chol is None:
            raise RuntimeError("mahalanobis kernel: no covariance yet; call kernel.fit(embeddings) or "
                               "kernel.set_covariance(cov) first")
        if not self._bandwidth_fitted:
            raise RuntimeError("mahalanobis kernel: bandwidth='median' is estimated by fit(); call fit() first")
        if x is not None and x.shape[-1] != self.chol.shape[0]:
            raise ValueError(f"mahalanobis kernel: embeddings have d={x.shape[-1]} but S is "
                             f"{self.chol.shape[0]}x{self.chol.shape[0]}; fit() on embeddings of this size")

    def whiten(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, d]`` rows L^-1 x_i, so ||L^-1 (x - y)||^2 = (x - y)^T S^-1 (x - y)."""
        if self.chol is None:
            raise RuntimeError("mahalanobis kernel: no covariance yet; call fit() or set_covariance() first")
        return torch.linalg.solve_triangular(self._chol_like(x), x.T, upper=False).T  # [d,d] \ [d,n] -> [n,d]

    def _chol_like(self, x: torch.Tensor) -> torch.Tensor:
        """L in the dtype/device of ``x``, cached so the per-step path does not re-copy d^2 values."""
        key = (x.device, x.dtype, self.chol._version)
        c = self._chol_cache
        if c is None or c[0] is not self.chol or c[1] != key:  # c[0] holds the source: no id reuse
            c = self._chol_cache = (self.chol, key, self.chol.to(device=x.device, dtype=x.dtype))
        return c[2]

    def _inv_two_h2(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.exp(-2.0 * self.log_bandwidth.to(x))  # scalar 1 / (2 h^2)

    # -- evaluation -----------------------------------------------------------------------
    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_pair(self.name, x, y, paired=False)
        self._check_fitted(x)
        return torch.exp(-sq_dist_pairwise(x, y, self.whiten) * self._inv_two_h2(x))  # [n, m]

    def log_paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_pair(self.name, x, y, paired=True)
        self._check_fitted(x)
        z = self.whiten(x - y)  # [n, d]
        return -(z * z).sum(-1) * self._inv_two_h2(x)  # [n]

    def log_diag(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0])  # K(x, x) = 1

    def sample_frequencies(self, num_features: int, dim: int, generator: torch.Generator | None = None
                           ) -> tuple[torch.Tensor, float]:
        """omega ~ N(0, S^-1 / h^2): omega = L^-T g / h with g ~ N(0, I) (Cov = L^-T L^-1 = S^-1); k0 = 1."""
        self._check_fitted()
        if dim != self.chol.shape[0]:
            raise ValueError(f"mahalanobis kernel: RFF dim {dim} differs from the fitted covariance size "
                             f"{self.chol.shape[0]}")
        chol = self.chol.detach().to(torch.float64).cpu()  # [d, d]
        g = torch.randn(dim, num_features, generator=generator, dtype=torch.float64)  # [d, D]
        omega = torch.linalg.solve_triangular(chol.T, g, upper=True).T  # [D, d]
        return omega / float(self.log_bandwidth.exp()), 1.0

    def extra_repr(self) -> str:
        d = "unfitted" if self.chol is None else f"d={self.chol.shape[0]}"
        src = "set_covariance" if self.covariance_fixed else f"shrinkage={self.params.shrinkage}"
        return f"{d}, {src}, bandwidth={self.params.bandwidth}"
