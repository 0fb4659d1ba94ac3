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

    def link_scores(self, link, r: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Scores the margin ``m = beta * (psi+ - psi-) + ...`` is built from; default ``link.link(r)``.

        ``r`` ``[2B]`` summed log-ratios and ``lengths`` ``[2B]`` completion token counts, chosen rows
        first; ``link`` is the ``divergence.link`` component. A loss defined on length-normalised
        scores (TRL's IPO) overrides this; the objective always calls it.
        """
        return link.link(r)
