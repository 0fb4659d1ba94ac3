"""The DPO (Bradley-Terry) loss with conservative label smoothing."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from dpok_framework.components import Params, PreferenceLoss


class SigmoidParams(Params):
    label_smoothing: float = Field(0.0, ge=0.0, lt=0.5, description="eps: probability the label is flipped (cDPO).")


class SigmoidLoss(PreferenceLoss):
    """L(m) = -(1 - eps) log sigmoid(m) - eps log sigmoid(-m)  (eps = 0: standard DPO)."""

    name = "sigmoid"
    summary = "-log sigmoid(m) with label smoothing (DPO / cDPO)"
    Params = SigmoidParams

    def __init__(self, params: SigmoidParams | None = None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        # cDPO smoothing (eps > 0) has its minimum at m = log((1 - eps) / eps): non-increasing only at eps = 0
        self.non_increasing = self.params.label_smoothing == 0.0

    def documented_values(self) -> list[tuple[float, float, float]]:
        return [(0.0, 0.1, 0.6931471805599453)]  # L(0) = log 2 for every eps

    def forward(self, margin: torch.Tensor, beta: float) -> torch.Tensor:
        eps = self.params.label_smoothing
        return -(1.0 - eps) * F.logsigmoid(margin) - eps * F.logsigmoid(-margin)
