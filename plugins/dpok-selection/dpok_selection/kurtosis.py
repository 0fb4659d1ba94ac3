"""Kurtosis: are the divergence's per-pair values heavy-tailed (a few pairs dominating the penalty)?"""

from __future__ import annotations

import math

import torch

from dpok_framework.components import Params
from dpok_framework.components.selection import MetricValue, SelectionMetric
from dpok_framework.selection.stats import excess_kurtosis


class KurtosisParams(Params):
    pass


class Kurtosis(SelectionMetric):
    """Score = excess kurtosis m4 / m2^2 - 3 of the per-pair values D(p_i || q_i) (finite ones).

    Heavy-tailed log-ratios log p/q make the values of unbounded divergences (KL) heavy-tailed too, so
    a handful of pairs dominates the penalty and its gradient; bounded (Hellinger, JS) and
    log-compressed (Renyi with a < 1, Bhattacharyya) divergences and Wasserstein (bounded by the
    largest ground cost) keep light tails.  Invariant to D -> c D.  Lower is better; nan when the values
    are constant up to rounding (std <= 1e-6 |mean|, e.g. a divergence saturated on every pair).  Data statistic: the excess kurtosis of the log-ratio log p_v - log q_v under p (pooled
    over pairs, outcomes with p_v, q_v > 0, weights p_v).
    """

    name = "kurtosis"
    label = "kurt"
    summary = "excess kurtosis of per-pair divergence values (lower better)"
    favours = "heavy-tail-robust divergences (Hellinger, JS, Renyi a<1, Wasserstein) when log-ratios are heavy-tailed"
    target = "divergence"
    higher_is_better = False
    Params = KurtosisParams

    def compute(self, candidate, evidence) -> MetricValue:
        vals = evidence.stats(candidate).values
        vals = vals[torch.isfinite(vals)]
        if vals.numel() < 4:
            return MetricValue(math.nan)
        mean, std = float(vals.mean()), float(vals.std(correction=0))
        if std <= 1e-6 * abs(mean):
            return MetricValue(math.nan)  # constant up to rounding (e.g. saturated): no tail to speak of
        return MetricValue(excess_kurtosis(vals))

    def data_statistics(self, evidence) -> dict[str, float]:
        r, w = evidence.log_ratio_samples
        return {"log_ratio_excess_kurtosis": excess_kurtosis(r, w) if r.numel() >= 4 else math.nan}
