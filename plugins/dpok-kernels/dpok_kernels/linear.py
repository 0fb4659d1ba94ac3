"""Linear kernel K(x, y) = x . y (the baseline: plain DPO is 'effectively a linear kernel')."""

from __future__ import annotations

import torch

from dpok_framework.components import Kernel, Params


class LinearParams(Params):
    pass


class LinearKernel(Kernel):
    """K(x, y) = x^T y. PSD; it is *not* positive, so ``log_paired`` requires x . y > 0 and raises otherwise."""

    name = "linear"
    strictly_positive = False  # x . y can be <= 0: the property suite does not check positivity
    summary = "x . y (baseline; log-ratio needs positive inner products)"
    group = "local"
    Params = LinearParams

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x @ y.T  # [n, d] @ [d, m] -> [n, m]

    def paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x * y).sum(-1)  # [n]

    def log_paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        k = self.paired(x, y)
        if bool((k <= 0).any()):
            raise ValueError("linear kernel: log K needs x . y > 0 for every pair; use a strictly positive "
                             "kernel (rbf, polynomial with c >= 1 on unit-norm inputs) for the kernel term")
        return k.log()
