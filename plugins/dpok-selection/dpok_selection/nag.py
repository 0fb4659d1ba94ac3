"""NAG, normalised alignment gap: the signal-to-noise ratio of the kernel term."""

from __future__ import annotations

import math

from dpok_framework.components import Params
from dpok_framework.components.selection import MetricValue, SelectionMetric
from dpok_framework.selection.stats import moments


class NAGParams(Params):
    pass


class NAG(SelectionMetric):
    """NAG = mean_i k_i / std_i k_i,  k_i = log K(x_i, y+_i) - log K(x_i, y-_i)  (population std).

    The gap between chosen and rejected similarity, normalised by its own spread: an effect size
    (Cohen's d of the kernel term against 0).  Invariant to k -> c k, c > 0, so gamma and the kernel's
    bandwidth/degree scale drop out.  +-inf when the gap is constant and non-zero, nan when k == 0.
    Higher is better; exact in both modes.
    """

    name = "nag"
    label = "NAG"
    summary = "mean / std of the kernel log-ratio (effect size; higher better)"
    favours = "kernels whose chosen-vs-rejected gap is large relative to its spread"
    target = "kernel"
    higher_is_better = True
    Params = NAGParams

    def compute(self, candidate, evidence) -> MetricValue:
        mean, var = moments(evidence.stats(candidate).log_ratio)
        std = math.sqrt(var)
        if std <= 1e-12 * max(abs(mean), 1e-300):
            return MetricValue(math.copysign(math.inf, mean) if mean != 0.0 else math.nan)
        return MetricValue(mean / std)
