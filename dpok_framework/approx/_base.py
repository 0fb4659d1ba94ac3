"""Shared behaviour of the kernel feature-map approximations."""

from __future__ import annotations

import torch

from ..components.kernel import Kernel


class FeatureMap:
    """A finite feature map z with ``z(x) . z(y) ~= K(x, y)``; subclasses implement fit/transform."""

    def __init__(self, kernel: Kernel, seed: int = 0) -> None:
        if not isinstance(kernel, Kernel):
            raise TypeError(f"{type(self).__name__} needs a dpok Kernel instance, got {type(kernel).__name__}")
        self.kernel = kernel
        self.seed = int(seed)
        self.dim: int | None = None

    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed)

    def _check_ready(self, x: torch.Tensor) -> None:
        if self.dim is None:
            raise RuntimeError(f"{type(self).__name__}: call fit() before transform()")
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"{type(self).__name__}: expected [n, {self.dim}] inputs, got {tuple(x.shape)}")

    def transform(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``[n, m]`` approximate Gram matrix ``transform(x) @ transform(y).T`` (PSD when x is y)."""
        return self.transform(x) @ self.transform(y).T

    def fit_transform(self, x: torch.Tensor) -> torch.Tensor:
        return self.fit(x).transform(x)  # type: ignore[attr-defined]
