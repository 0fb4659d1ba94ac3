"""Nystrom approximation (Williams & Seeger 2001) with m landmarks, for any kernel.

With landmarks Z = {z_1..z_m} drawn from the data, K_ZZ = U diag(lam) U^T (eigenvalues below
``rcond * lam_max`` dropped, r kept) and

    phi(x) = k_Z(x) U_r diag(lam_r)^-1/2        (k_Z(x) = [K(x, z_1), ..., K(x, z_m)])

so phi(x) . phi(y) = k_Z(x)^T K_ZZ^+ k_Z(y): exact on the landmarks, PSD, and the residual
K - K_nystrom is PSD.  Landmarks are a prefix of one seeded permutation, so sets for growing m are
nested and the error (trace or spectral norm of the residual) never increases with m.  Kernel
values are computed in float64 whatever the input dtype (the K_ZZ^-1/2 factor amplifies rounding
noise of small eigenvalues); features are returned in the input dtype.
"""

from __future__ import annotations

import torch

from ..components.kernel import Kernel
from ._base import FeatureMap


class Nystrom(FeatureMap):
    """``Nystrom(kernel, num_landmarks, seed=0).fit(X).transform(X) -> [n, r]`` with r <= num_landmarks
    (the numerical rank of the landmark Gram; ``num_features`` after fit)."""

    def __init__(self, kernel: Kernel, num_landmarks: int, seed: int = 0, rcond: float = 1e-10) -> None:
        super().__init__(kernel, seed)
        if not isinstance(num_landmarks, int) or num_landmarks < 1:
            raise ValueError(f"Nystrom: num_landmarks must be a positive int, got {num_landmarks!r}")
        if not 0.0 <= rcond < 1.0:
            raise ValueError(f"Nystrom: rcond must be in [0, 1), got {rcond}")
        self.num_landmarks = num_landmarks
        self.rcond = rcond
        self.landmarks: torch.Tensor | None = None  # [m, dim]
        self.projection: torch.Tensor | None = None  # [m, r] = U_r diag(lam_r)^-1/2
        self.num_features: int | None = None

    def fit(self, x: torch.Tensor) -> "Nystrom":
        """Pick ``min(num_landmarks, n)`` landmarks from ``X [n, dim]`` and factor their Gram matrix."""
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] < 1:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"Nystrom.fit: expected a non-empty [n, d] tensor, got {shape}")
        n = x.shape[0]
        perm = torch.randperm(n, generator=self._generator())[: min(self.num_landmarks, n)]  # [m]
        z = x.detach()[perm.to(x.device)].to(torch.float64)  # [m, dim]
        with torch.no_grad():
            kzz = self.kernel.pairwise(z, z).to(torch.float64)  # [m, m]
            kzz = 0.5 * (kzz + kzz.T)
            lam, u = torch.linalg.eigh(kzz)  # [m], [m, m]
            keep = lam > self.rcond * lam.max().clamp_min(0.0)
            if not bool(keep.any()):
                raise ValueError(f"Nystrom: the landmark Gram matrix of kernel {self.kernel.name!r} is numerically "
                                 f"zero; check the kernel's fit (bandwidth) and the inputs")
            self.projection = u[:, keep] / lam[keep].sqrt()  # [m, r]
        self.landmarks = z
        self.num_features = int(keep.sum())
        self.dim = int(x.shape[1])
        return self

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, r]`` features phi(x) in the dtype/device of ``x``."""
        self._check_ready(x)
        kxz = self.kernel.pairwise(x.to(torch.float64), self.landmarks.to(x.device))  # [n, m] float64
        return (kxz @ self.projection.to(x.device)).to(x.dtype)  # [n, m] @ [m, r] -> [n, r]
