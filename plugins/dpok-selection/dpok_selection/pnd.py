"""PND, positive-negative divergence: MMD^2 between chosen and rejected completions under the kernel."""

from __future__ import annotations

import math

from dpok_framework.components import Params
from dpok_framework.components.selection import MetricValue, SelectionMetric


class PNDParams(Params):
    pass


class PND(SelectionMetric):
    """PND = MMD^2_{K~}(P+, P-), the squared maximum mean discrepancy between the distribution of chosen
    completions P+ and of rejected completions P- in the feature space of the cosine-normalised kernel
    K~(a, b) = K(a, b) / sqrt(K(a, a) K(b, b)):

        MMD^2 = E K~(y+, y+') + E K~(y-, y-') - 2 E K~(y+, y-'),   in [0, 2] (K~(a, a) = 1).

    Higher is better: the kernel's geometry tells chosen from rejected completions apart as populations.
    Invariant to K -> c K.  ``exact`` mode: unbiased U-statistic over all i != j, O(N^2 d); ``approx``:
    the linear-time statistic of Gretton et al. (2012) on disjoint pairs of triplets, O(N d), unbiased,
    with its standard error in ``details["se"]``.
    """

    name = "pnd"
    label = "PND"
    summary = "MMD^2 between chosen and rejected completions under the normalised kernel (higher better)"
    favours = "kernels whose feature space separates chosen from rejected completions as populations"
    target = "kernel"
    higher_is_better = True
    Params = PNDParams

    def compute(self, candidate, evidence) -> MetricValue:
        value, se = evidence.stats(candidate).mmd
        if not math.isfinite(value):
            return MetricValue(math.nan)
        return MetricValue(value, details={"se": se})
