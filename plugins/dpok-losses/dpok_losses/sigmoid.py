"""The DPO (Bradley-Terry) loss with conservative label smoothing."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from dpok_framework.components import Params, PreferenceLoss


class SigmoidParams(Params):
    label_smoothing: float = Field(0.0, ge=0.0, lt=0.5, description="eps: probability the label is flipped (cDPO).")
    convention: Literal["paper", "trl"] = Field(
        "paper", description="paper: cDPO's label smoothing (Mitchell 2023), the loss below with eps. trl: TRL 1.16's "
                             "`sigmoid`, which ignores label_smoothing (-log sigmoid(m)); a non-zero "
                             "label_smoothing is refused there so the difference cannot pass unnoticed.")

    @model_validator(mode="after")
    def _trl_has_no_smoothing(self) -> "SigmoidParams":
        if self.convention == "trl" and self.label_smoothing != 0.0:
            raise ValueError(f"label_smoothing = {self.label_smoothing:g} with convention 'trl': TRL 1.16's sigmoid "
                             f"loss ignores label_smoothing, so it would have no effect; set it to 0, or use "
                             f"convention: paper for cDPO smoothing (or the `robust` loss for rDPO)")
        return self


def smoothed_softplus(margin: torch.Tensor, eps: float) -> torch.Tensor:
    """(1 - eps) softplus(-m) + eps softplus(m) = -(1 - eps) log sigmoid(m) - eps log sigmoid(-m).

    The eps term is left out when eps = 0, so m = +inf gives 0 (not 0 * inf = nan) with a zero gradient.
    """
    out = F.softplus(-margin)
    if eps == 0.0:
        return out
    return (1.0 - eps) * out + eps * F.softplus(margin)


class SigmoidLoss(PreferenceLoss):
    """L(m) = -(1 - eps) log sigmoid(m) - eps log sigmoid(-m)  (eps = 0: standard DPO).

    L(+inf) = 0 for eps = 0 and +inf for eps > 0; L(-inf) = +inf. ``convention: trl`` is TRL 1.16's
    ``sigmoid`` (eps fixed at 0).
    """

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
        return smoothed_softplus(margin, self.params.label_smoothing)
