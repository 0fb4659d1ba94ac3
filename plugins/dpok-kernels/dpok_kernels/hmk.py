"""Hierarchical Mixture of Kernels: local {rbf, polynomial} and global {spectral, mahalanobis} groups."""

from __future__ import annotations

import torch
from pydantic import Field, field_validator

from dpok_framework.components import Kernel, Params

from ._geometry import check_pair
from .mahalanobis import MahalanobisKernel, MahalanobisParams
from .polynomial import PolynomialKernel, PolynomialParams
from .rbf import RBFKernel, RBFParams
from .spectral import SpectralKernel, SpectralParams

GROUPS: dict[str, tuple[str, str]] = {"local": ("rbf", "polynomial"), "global": ("spectral", "mahalanobis")}


class HMKParams(Params):
    rbf: RBFParams = Field(default_factory=RBFParams, description="Params of the local RBF member.")
    polynomial: PolynomialParams = Field(default_factory=PolynomialParams,
                                         description="Params of the local polynomial member.")
    spectral: SpectralParams = Field(default_factory=SpectralParams,
                                     description="Params of the global spectral member.")
    mahalanobis: MahalanobisParams = Field(
        default_factory=lambda: MahalanobisParams(bandwidth="median"),
        description="Params of the global Mahalanobis member (default bandwidth `median`, so its values are "
                    "not negligible next to the others at large d).")
    learn_weights: bool = Field(True, description="Optimise the group and member logits.")
    group_logits: tuple[float, float] = Field((0.0, 0.0), description="Initial (local, global) logits.")
    local_logits: tuple[float, float] = Field((0.0, 0.0), description="Initial (rbf, polynomial) logits.")
    global_logits: tuple[float, float] = Field((0.0, 0.0), description="Initial (spectral, mahalanobis) logits.")
    normalize: bool = Field(True, description="Cosine-normalise each member, K(x,y)/sqrt(K(x,x) K(y,y)), "
                                              "before mixing so no member dominates by scale.")

    @field_validator("polynomial")
    @classmethod
    def _polynomial_positive(cls, v: PolynomialParams) -> PolynomialParams:
        # hmk declares strictly_positive and takes log K as a logsumexp of member logs, so every member
        # must be > 0 everywhere; an unnormalised polynomial (s <x, y> + c)^d can be <= 0
        if not v.normalize:
            raise ValueError("hmk: polynomial.normalize=False makes the polynomial member (s <x, y> + c)^d "
                             "non-positive for some inputs, but hmk is strictly positive (log K is a logsumexp "
                             "of the members' logs); keep polynomial.normalize=True with offset > scale")
        return v


class HMKKernel(Kernel):
    """K = tau_L (a_rbf K_rbf + a_poly K_poly) + tau_G (a_spec K_spec + a_maha K_maha).

    (tau_L, tau_G) = softmax(t), (a_rbf, a_poly) = softmax(l), (a_spec, a_maha) = softmax(g), all
    learnable (``learn_weights``).  Members are cosine-normalised (K~ = K / sqrt(K(x,x) K(y,y)), in
    (0, 1]) before mixing in value space; a non-negative combination of PSD kernels is PSD for any
    logits, and K > 0 since every member is.  log K is a logsumexp over the four weighted members.

    :meth:`regularizer` = -(H(tau) + H(a_L) + H(a_G)), H(w) = -sum w log w; the engine adds
    ``entropy_weight * regularizer()`` so minimising the loss keeps the mixture spread (no collapse).
    Cost per step: four O(B d) kernels plus one O(B d^2) triangular solve, on pooled embeddings.
    """

    name = "hmk"
    summary = "hierarchical mixture: softmax-weighted local {rbf, polynomial} + global {spectral, mahalanobis}"
    group = "hybrid"
    uses_covariance = True
    Params = HMKParams

    def __init__(self, params: HMKParams | None = None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        p = self.params
        self.members = torch.nn.ModuleDict({
            "rbf": RBFKernel(p.rbf), "polynomial": PolynomialKernel(p.polynomial),
            "spectral": SpectralKernel(p.spectral), "mahalanobis": MahalanobisKernel(p.mahalanobis)})
        for key, init in (("group_logits", p.group_logits), ("local_logits", p.local_logits),
                          ("global_logits", p.global_logits)):
            t = torch.tensor(init, dtype=torch.float64)
            if p.learn_weights:
                setattr(self, key, torch.nn.Parameter(t))
            else:
                self.register_buffer(key, t)

    # -- data-dependent set-up ------------------------------------------------------------
    def fit(self, embeddings: torch.Tensor) -> "HMKKernel":
        """Fit every member (median bandwidths, covariance unless set by :meth:`set_covariance`)."""
        for member in self.members.values():
            member.fit(embeddings)
        return self

    def set_covariance(self, cov: torch.Tensor, mean: torch.Tensor | None = None) -> "HMKKernel":
        """Forward a (e.g. DP) covariance to the Mahalanobis member; fit() keeps it."""
        self.members["mahalanobis"].set_covariance(cov, mean)
        return self

    # -- weights --------------------------------------------------------------------------
    def _log_weights(self, like: torch.Tensor) -> torch.Tensor:
        """``[4]`` log effective weights in the order rbf, polynomial, spectral, mahalanobis."""
        lg = torch.log_softmax(self.group_logits.to(like), -1)  # [2] log tau
        ll = torch.log_softmax(self.local_logits.to(like), -1)  # [2] log a_L
        lgl = torch.log_softmax(self.global_logits.to(like), -1)  # [2] log a_G
        return torch.cat([lg[0] + ll, lg[1] + lgl])  # [4]

    def mixture_weights(self) -> dict[str, float]:
        """Effective weights {"rbf": tau_L a_rbf, ..., "local": tau_L, "global": tau_G} (for logging)."""
        with torch.no_grad():
            w = self._log_weights(self.group_logits).exp().tolist()
            tau = torch.softmax(self.group_logits, -1).tolist()
        out = dict(zip(("rbf", "polynomial", "spectral", "mahalanobis"), w))
        out.update(local=tau[0], **{"global": tau[1]})
        return out

    def regularizer(self) -> torch.Tensor:
        """Negative entropy -(H(tau) + H(a_L) + H(a_G)) (scalar; in [-3 log 2, 0])."""
        neg_h = self.group_logits.new_zeros(())
        for logits in (self.group_logits, self.local_logits, self.global_logits):
            logp = torch.log_softmax(logits, -1)
            neg_h = neg_h + (logp.exp() * logp).sum()
        return neg_h

    # -- evaluation -----------------------------------------------------------------------
    def _member_log_paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cols = []
        for member in self.members.values():
            lk = member.log_paired(x, y)  # [n]
            if self.params.normalize:
                lk = lk - 0.5 * (member.log_diag(x) + member.log_diag(y))
            cols.append(lk)
        return torch.stack(cols, -1)  # [n, 4]

    def log_paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_pair(self.name, x, y, paired=True)
        return torch.logsumexp(self._member_log_paired(x, y) + self._log_weights(x), -1)  # [n, 4] -> [n]

    def log_diag(self, x: torch.Tensor) -> torch.Tensor:
        if self.params.normalize:
            return x.new_zeros(x.shape[0])  # every normalised member has K~(x, x) = 1, weights sum to 1
        return self.log_paired(x, x)

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_pair(self.name, x, y, paired=False)
        w = self._log_weights(x).exp()  # [4]
        out = x.new_zeros(x.shape[0], y.shape[0])  # [n, m]
        for wk, member in zip(w, self.members.values()):
            k = member.pairwise(x, y)  # [n, m]
            if self.params.normalize:
                k = k * torch.exp(-0.5 * member.log_diag(x))[:, None] * torch.exp(-0.5 * member.log_diag(y))[None, :]
            out = out + wk * k
        return out

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v:.3f}" for k, v in self.mixture_weights().items())
