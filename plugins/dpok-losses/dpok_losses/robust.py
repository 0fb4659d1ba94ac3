"""Robust DPO (rDPO): an unbiased loss under label noise, Chowdhury et al. 2024 (arXiv 2403.00409)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from dpok_framework.components import Params, PreferenceLoss


class RobustParams(Params):
    label_smoothing: float = Field(0.1, ge=0.0, lt=0.5,
                                   description="eps: assumed probability that a preference label is flipped.")


class RobustLoss(PreferenceLoss):
    """L(m) = [-(1 - eps) log sigmoid(m) + eps log sigmoid(-m)] / (1 - 2 eps).

    Its expectation under labels flipped with probability eps equals the clean DPO loss; it can be
    negative for a single pair (unlike cDPO's label smoothing, which is a different estimator).
    Identical to TRL 1.16's ``robust``. L(+inf) = 0 for eps = 0 and -inf for eps > 0.
    """

    name = "robust"
    summary = "label-noise-unbiased DPO (rDPO)"
    Params = RobustParams

    def forward(self, margin: torch.Tensor, beta: float) -> torch.Tensor:
        eps = self.params.label_smoothing
        clean = F.softplus(-margin)  # -log sigmoid(m)
        if eps == 0.0:  # no eps * log sigmoid(-m) term: m = +inf gives 0, not 0 * -inf
            return clean
        return ((1.0 - eps) * clean - eps * F.softplus(margin)) / (1.0 - 2.0 * eps)
