"""Base class for preference objectives applied to the DPO-Kernels margin."""

from __future__ import annotations

from typing import ClassVar

import torch

from .base import Component, Params


class PreferenceLoss(Component, torch.nn.Module):
    """Maps per-pair margins to per-pair losses.

    ``forward(margin, beta)``: ``margin`` is ``[B]`` with
    ``m = beta * (psi(r+) - psi(r-)) + gamma * (log K(e_x, e_y+) - log K(e_x, e_y-))``;
    ``beta`` is passed for objectives defined on the unscaled log-ratio (e.g. IPO). Returns ``[B]``.
    """

    kind: ClassVar[str] = "loss"

    def __init__(self, params: Params | None = None, **kwargs) -> None:
        torch.nn.Module.__init__(self)
        self._init_params(params, kwargs)

    def forward(self, margin: torch.Tensor, beta: float) -> torch.Tensor:
        raise NotImplementedError

    def scale_scores(self, psi: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-sequence link scores ``psi`` ``[2B]`` -> the scores the margin is built from (default: as is).

        ``lengths`` ``[2B]`` counts each completion's tokens (chosen rows first, like ``psi``). A loss
        defined on length-normalised log-ratios (TRL's IPO) divides here; the objective calls this
        before forming ``m = beta * (psi+ - psi-) + ...``.
        """
        return psi
