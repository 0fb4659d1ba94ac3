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

    Declarations the contract (``dpok plugins check``, :mod:`dpok_framework.testing`) and runtime admission
    hold the loss to:

    * ``non_increasing`` (default True): L(m) never increases with the margin m (a larger preference margin
      never costs more).  Losses with a target margin (IPO's squared loss) set it False.
    * :meth:`documented_values`: exact ``(margin, beta, loss)`` points the docstring promises.

    Every loss must be finite, with a finite gradient, for any finite margin (``|m|`` up to 1e4).
    """

    kind: ClassVar[str] = "loss"
    non_increasing: ClassVar[bool] = True

    def __init__(self, params: Params | None = None, **kwargs) -> None:
        torch.nn.Module.__init__(self)
        self._init_params(params, kwargs)

    def documented_values(self) -> list[tuple[float, float, float]]:
        """``[(margin, beta, L(margin; beta)), ...]`` exact values the contract checks (default: none)."""
        return []

    def forward(self, margin: torch.Tensor, beta: float) -> torch.Tensor:
        raise NotImplementedError

    def link_scores(self, link, r: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Scores the margin ``m = beta * (psi+ - psi-) + ...`` is built from; default ``link.link(r)``.

        ``r`` ``[2B]`` summed log-ratios and ``lengths`` ``[2B]`` completion token counts, chosen rows
        first; ``link`` is the ``divergence.link`` component. A loss defined on length-normalised
        scores (TRL's IPO) overrides this; the objective always calls it.
        """
        return link.link(r)
