"""IPO: the squared-loss preference objective of Azar et al. 2023 (arXiv 2310.12036)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from dpok_framework.components import Params, PreferenceLoss


class IPOParams(Params):
    convention: Literal["paper", "trl"] = Field(
        "paper", description="paper: Azar et al.'s IPO on sequence log-ratios summed over completion tokens. trl: "
                             "TRL 1.16's `ipo`, which divides each completion's link score by its token count "
                             "(a per-token average) before the margin; beta then has a different scale.")


class IPOLoss(PreferenceLoss):
    """L(m) = (m / beta - 1 / (2 beta))^2.

    IPO regresses the unscaled log-ratio difference h = m / beta onto the target 1 / (2 beta)
    (beta plays the role of IPO's tau). With the kernel term on, h includes gamma/beta times the
    kernel log-ratio. Unlike the sigmoid loss it does not saturate, so it never pushes the margin
    past the target (no overfitting to deterministic preferences).

    ``convention: paper`` uses the summed sequence log-ratios (Azar et al.'s h); ``convention: trl``
    averages each link score over its completion's tokens first (TRL 1.16's ``ipo``; see
    :meth:`link_scores`), so h = psi~(r+)/|y+| - psi~(r-)/|y-| with psi~(r) = psi(r) - psi(0).
    """

    name = "ipo"
    summary = "(m/beta - 1/(2 beta))^2 (IPO)"
    Params = IPOParams
    non_increasing = False  # squared loss around the target margin 1/2

    def forward(self, margin: torch.Tensor, beta: float) -> torch.Tensor:
        return (margin / beta - 1.0 / (2.0 * beta)) ** 2

    def link_scores(self, link, r: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        psi = link.link(r)  # [2B]
        if self.params.convention == "paper":
            return psi
        # TRL's scores vanish at r = 0 (its KL score is r, not f'(1) + r), which matters once each score is
        # divided by a different length: centre psi, then average over the completion's tokens
        psi = psi - link.link(torch.zeros_like(r))
        return psi / lengths.to(psi.dtype).clamp(min=1.0)  # [2B], TRL clamps empty completions to 1
