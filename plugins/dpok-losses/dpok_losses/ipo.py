"""IPO: the squared-loss preference objective of Azar et al. 2023 (arXiv 2310.12036)."""

from __future__ import annotations

import torch

from dpok_framework.components import Params, PreferenceLoss


class IPOParams(Params):
    pass


class IPOLoss(PreferenceLoss):
    """L(m) = (m / beta - 1 / (2 beta))^2.

    IPO regresses the unscaled log-ratio difference h = m / beta onto the target 1 / (2 beta)
    (beta plays the role of IPO's tau). With the kernel term on, h includes gamma/beta times the
    kernel log-ratio. Unlike the sigmoid loss it does not saturate, so it never pushes the margin
    past the target (no overfitting to deterministic preferences).
    """

    name = "ipo"
    summary = "(m/beta - 1/(2 beta))^2 (IPO)"
    Params = IPOParams
    non_increasing = False  # squared loss around the target margin 1/2

    def forward(self, margin: torch.Tensor, beta: float) -> torch.Tensor:
        return (margin / beta - 1.0 / (2.0 * beta)) ** 2
