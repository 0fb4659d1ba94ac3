"""Hinge (SLiC-style) preference loss."""

from __future__ import annotations

import torch
from pydantic import Field

from dpok_framework.components import Params, PreferenceLoss


class HingeParams(Params):
    margin: float = Field(1.0, gt=0.0, description="delta: the margin the pair must clear.")


class HingeLoss(PreferenceLoss):
    """L(m) = max(0, delta - m)  (SLiC-HF, Zhao et al. 2023; delta = 1 matches TRL's `hinge`)."""

    name = "hinge"
    summary = "max(0, delta - m) (SLiC hinge)"
    Params = HingeParams

    def forward(self, margin: torch.Tensor, beta: float) -> torch.Tensor:
        return torch.relu(self.params.margin - margin)
