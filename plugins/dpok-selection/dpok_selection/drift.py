"""Drift magnitude: does the divergence's pull stay on one scale across pairs with small and large drift?"""

from __future__ import annotations

import math

import torch
from pydantic import Field, model_validator

from dpok_framework.components import Params
from dpok_framework.components.selection import MetricValue, SelectionMetric
from dpok_framework.selection.stats import row_quantile


class DriftParams(Params):
    low_quantile: float = Field(0.1, ge=0.0, lt=1.0)
    high_quantile: float = Field(0.9, gt=0.0, le=1.0)
    min_drift: float = Field(1e-6, ge=0.0, description="Pairs with total variation at or below this are "
                                                       "ignored (no drift, every gradient is 0 there).")

    @model_validator(mode="after")
    def _order(self) -> "DriftParams":
        if not self.low_quantile < self.high_quantile:
            raise ValueError(f"low_quantile ({self.low_quantile}) must be below high_quantile ({self.high_quantile})")
        return self


class DriftMagnitude(SelectionMetric):
    """Score = log Q_hi(g) - log Q_lo(g), g_i = || d D(softmax(z_i) || q_i) / d z_i ||_2 at z_i = log p_i,
    over the pairs with non-trivial drift (TV(p_i, q_i) > ``min_drift``); quantiles 0.9 / 0.1 by default.

    The spread, in nats, of the gradient scale the penalty feeds back across pairs.  Large drift makes
    unbounded divergences (KL) pull hardest on the most-drifted pairs (their gradient grows with the
    log-ratio), while saturating ones (JS, Hellinger) stop pulling on pairs whose supports barely meet;
    a divergence whose pull stays on one scale (Wasserstein, Hellinger under moderate drift) scores low.
    Invariant to D -> c D.  Lower is better; +inf if a gradient is not finite, nan if the divergence has no
    gradient.  Data statistic: drift magnitude TV(p, q) = 1/2 sum_v |p_v - q_v| (mean and max).
    """

    name = "drift_magnitude"
    label = "drift"
    summary = "log spread (q90/q10) of gradient norms across drifted pairs (lower better)"
    favours = "divergences whose pull stays on one scale when drift is large (bounded or geometry-aware)"
    target = "divergence"
    higher_is_better = False
    Params = DriftParams

    def compute(self, candidate, evidence) -> MetricValue:
        stats = evidence.stats(candidate)
        mask = (evidence.total_variation > self.params.min_drift) & torch.isfinite(stats.values)
        g = stats.grad_norms[mask]
        if g.numel() < 2:
            return MetricValue(math.nan)
        if not bool(torch.isfinite(g).all()):
            return MetricValue(math.inf, details={"nonfinite_gradients": float((~torch.isfinite(g)).sum())})
        top = float(g.max())
        if not top > 0.0:
            return MetricValue(math.nan)  # no gradient reaches the policy: not usable as a penalty
        g = g.clamp_min(top * 1e-12)
        lo, hi = row_quantile(g, self.params.low_quantile), row_quantile(g, self.params.high_quantile)
        return MetricValue(math.log(hi) - math.log(lo))

    def data_statistics(self, evidence) -> dict[str, float]:
        tv = evidence.total_variation
        return {"tv_mean": float(tv.mean()), "tv_max": float(tv.max())}
