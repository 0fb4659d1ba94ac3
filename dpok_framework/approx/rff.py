"""Random Fourier Features (Rahimi & Recht 2007) for shift-invariant kernels.

Bochner: a continuous shift-invariant PSD kernel is K(x, y) = k0 * E_{omega ~ p}[cos(omega . (x - y))]
with p the kernel's normalised spectral density.  With D/2 frequencies omega_j ~ p,

    z(x) = sqrt(2 k0 / D) [cos(omega_1 . x), ..., cos(omega_{D/2} . x), sin(omega_1 . x), ..., sin(omega_{D/2} . x)]

gives z(x) . z(y) = (2 k0 / D) sum_j cos(omega_j . (x - y)), an unbiased estimate with O(1/sqrt(D))
error and exact diagonal k0 (the sin/cos form has lower variance than the random-phase form
sqrt(2 k0 / D) cos(omega . x + b), which is kept as ``variant="phase"``).  z(X) z(X)^T is PSD by
construction, but entries can be <= 0: do not take a log of them.
"""

from __future__ import annotations

import math

import torch

from ..components.kernel import Kernel
from ._base import FeatureMap


class RandomFourierFeatures(FeatureMap):
    """``RandomFourierFeatures(kernel, num_features, seed=0).fit(dim_or_X).transform(X) -> [n, num_features]``.

    Frequencies come from ``kernel.sample_frequencies`` with a generator seeded by ``seed`` (the
    approximation is deterministic given the seed); they are a snapshot of the kernel's current
    parameters (refit after changing them).
    """

    def __init__(self, kernel: Kernel, num_features: int, seed: int = 0, variant: str = "sincos") -> None:
        super().__init__(kernel, seed)
        if not getattr(kernel, "shift_invariant", False):
            raise ValueError(f"RandomFourierFeatures: kernel {kernel.name!r} is not shift-invariant "
                             f"(shift_invariant=False); use Nystrom(kernel, num_landmarks) instead")
        if variant not in ("sincos", "phase"):
            raise ValueError(f"RandomFourierFeatures: variant must be 'sincos' or 'phase', got {variant!r}")
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"RandomFourierFeatures: num_features must be a positive int, got {num_features!r}")
        if variant == "sincos" and num_features % 2:
            raise ValueError(f"RandomFourierFeatures: variant='sincos' needs an even num_features (cos and sin "
                             f"per frequency), got {num_features}")
        self.num_features = num_features
        self.variant = variant
        self.omega: torch.Tensor | None = None  # [D or D/2, dim] float64
        self.phase: torch.Tensor | None = None  # [D] float64 (variant "phase")
        self.k0: float = 1.0

    def fit(self, dim_or_x: int | torch.Tensor) -> "RandomFourierFeatures":
        """Draw the frequencies for inputs of dimension ``dim`` (an int, or read from ``X [n, dim]``)."""
        if isinstance(dim_or_x, torch.Tensor):
            if dim_or_x.dim() != 2:
                raise ValueError(f"RandomFourierFeatures.fit: expected an int dim or [n, d] tensor, got shape "
                                 f"{tuple(dim_or_x.shape)}")
            dim = int(dim_or_x.shape[1])
        else:
            dim = int(dim_or_x)
        if dim < 1:
            raise ValueError(f"RandomFourierFeatures.fit: dim must be >= 1, got {dim}")
        g = self._generator()
        n_freq = self.num_features // 2 if self.variant == "sincos" else self.num_features
        omega, k0 = self.kernel.sample_frequencies(n_freq, dim, g)
        if tuple(omega.shape) != (n_freq, dim):
            raise ValueError(f"kernel {self.kernel.name!r}: sample_frequencies returned shape {tuple(omega.shape)}, "
                             f"expected {(n_freq, dim)}")
        self.omega = omega.detach().to(torch.float64).cpu()
        self.k0 = float(k0)
        if self.variant == "phase":
            self.phase = torch.rand(self.num_features, generator=g, dtype=torch.float64) * (2.0 * math.pi)
        self.dim = dim
        return self

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, num_features]`` features z(x) in the dtype/device of ``x``."""
        self._check_ready(x)
        omega = self.omega.to(device=x.device, dtype=x.dtype)  # [F, dim]
        proj = x @ omega.T  # [n, F]
        scale = math.sqrt(2.0 * self.k0 / self.num_features)
        if self.variant == "sincos":
            return scale * torch.cat([proj.cos(), proj.sin()], -1)  # [n, 2F] = [n, D]
        return scale * torch.cos(proj + self.phase.to(device=x.device, dtype=x.dtype))  # [n, D]
