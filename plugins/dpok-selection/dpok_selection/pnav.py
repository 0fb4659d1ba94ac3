"""PNAV, positive-negative alignment variance: how much of the similarity spread is *not* the preference."""

from __future__ import annotations

import math

import torch

from dpok_framework.components import Params
from dpok_framework.components.selection import MetricValue, SelectionMetric
from dpok_framework.selection.stats import moments


class PNAVParams(Params):
    pass


class PNAV(SelectionMetric):
    """PNAV = (Var_i[l+_i] + Var_i[l-_i]) / (2 Var[l+ u l-]),  l+-_i = log K(x_i, y+-_i)  (population variances).

    The within-group share of the variance of the prompt/completion log-similarities, grouped by
    chosen vs rejected: 1 - eta^2 of a one-way analysis of variance (for two equal groups
    total = within + (mean l+ - mean l-)^2 / 4).  In [0, 1]; 1 when the chosen/rejected label explains
    none of the similarity spread (the kernel mostly sees prompt and topic heterogeneity), 0 when all of
    it.  Unlike NAG it ignores the pairing, so prompts whose completions are all similar (or all
    dissimilar) to them count as noise.  Invariant to log K -> a log K + b (a != 0).  Lower is better;
    nan when log K is constant.  Exact in both modes (O(N d)).
    """

    name = "pnav"
    label = "PNAV"
    summary = "within-group / total variance of log K(x, y), grouped chosen vs rejected (lower better)"
    favours = "kernels whose similarity spread is explained by the preference, not by prompt heterogeneity"
    target = "kernel"
    higher_is_better = False
    Params = PNAVParams

    def compute(self, candidate, evidence) -> MetricValue:
        stats = evidence.stats(candidate)
        _, var_pos = moments(stats.log_pos)
        _, var_neg = moments(stats.log_neg)
        _, var_all = moments(torch.cat([stats.log_pos, stats.log_neg]))
        if not var_all > 0.0 or not math.isfinite(var_all):
            return MetricValue(math.nan)
        return MetricValue(min(1.0, 0.5 * (var_pos + var_neg) / var_all))
