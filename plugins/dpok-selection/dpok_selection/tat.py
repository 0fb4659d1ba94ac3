"""TAT, triplet alignment tightness: the fraction of triplets the kernel term orders correctly."""

from __future__ import annotations

import math

from pydantic import Field

from dpok_framework.components import Params
from dpok_framework.components.selection import MetricValue, SelectionMetric


class TATParams(Params):
    margin: float = Field(0.0, ge=0.0, description="Margin in units of the median |k_i|: a triplet counts when "
                                                   "k_i > margin * median_j |k_j| (0: plain triplet accuracy).")
    veto_anti_aligned: bool = Field(True, description="Rule a kernel out when its plain triplet accuracy is "
                                                      "significantly below 1/2 (z > z_veto): its term would push "
                                                      "the margin towards the rejected completions.")
    z_veto: float = Field(3.0, gt=0.0, description="One-sided binomial z-score for the anti-alignment veto.")


class TAT(SelectionMetric):
    """TAT = mean_i 1[k_i > margin * median_j |k_j|],  k_i = log K(x_i, y+_i) - log K(x_i, y-_i).

    With ``margin = 0`` (default) it is the triplet accuracy of the kernel term alone: the fraction of
    pairs where the prompt is more similar to the chosen than to the rejected completion.  A relative
    margin keeps it invariant to the scale of k (gamma).  Higher is better; exact in both modes.

    Veto: with gamma >= 0 a kernel that prefers the rejected completion on significantly more than half
    the pairs (accuracy a, ties counted as 1/2, with (1/2 - a) / sqrt(1 / (4N)) > ``z_veto``, a one-sided
    binomial test) adds a
    term that pushes the margin the wrong way, so it is ruled out.
    """

    name = "tat"
    label = "TAT"
    summary = "fraction of triplets with log K(x, y+) > log K(x, y-) (+ relative margin) (higher better)"
    favours = "kernels under which the prompt is closer to the chosen than to the rejected completion"
    target = "kernel"
    higher_is_better = True
    Params = TATParams

    def compute(self, candidate, evidence) -> MetricValue:
        k = evidence.stats(candidate).log_ratio  # [N]
        threshold = self.params.margin * float(k.abs().median()) if self.params.margin > 0 else 0.0
        value = float((k > threshold).double().mean())
        veto = None
        if self.params.veto_anti_aligned:
            n = k.numel()
            accuracy = float((k > 0).double().mean() + 0.5 * (k == 0).double().mean())  # ties: half
            z = (0.5 - accuracy) / math.sqrt(0.25 / n)
            if z > self.params.z_veto:
                veto = (f"anti-aligned: log K(x, y+) > log K(x, y-) on only {accuracy:.1%} of {n} pairs "
                        f"(z = {z:.1f} below chance), so its term favours the rejected completions")
        return MetricValue(value, veto=veto)
