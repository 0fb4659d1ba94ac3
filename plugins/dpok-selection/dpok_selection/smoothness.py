"""Smoothness: how well the divergence's gradient predicts its change under a small policy perturbation."""

from __future__ import annotations

import math

import torch
from pydantic import Field

from dpok_framework.components import Params
from dpok_framework.components.selection import MetricValue, SelectionMetric


class SmoothnessParams(Params):
    eps: float = Field(0.05, gt=0.0, le=1.0, description="Std of the Gaussian noise added to the policy's "
                                                          "logits log p.")
    draws: int = Field(2, ge=1, le=32, description="Perturbations summed over.")


class Smoothness(SelectionMetric):
    """Score = sum_{draws, i} |D(p'_i || q_i) - D(p_i || q_i) - g_i . (z'_i - z_i)| / sum_{draws, i} |g_i . (z'_i - z_i)|,
    z' = log p + eps * xi, xi ~ N(0, I) (seeded, the same noise for every candidate), log p' = log_softmax(z'),
    g_i = d D / d z at z = log p.

    A finite-difference test of smoothness: the relative error of the first-order (gradient) prediction
    of D's change under a small perturbation of the policy's logits.  An L-smooth divergence has error
    O(eps * L / |g|); it is large where D curves sharply relative to its slope (KL where q has almost no
    mass, high-order Renyi) and where D has saturated so the gradient carries no signal (JS, Hellinger on
    disjoint supports).  Invariant to D -> c D.  Pairs where D is not finite are skipped
    (``support_overlap`` accounts for them).  Lower is better; nan when no gradient reaches the policy.
    Data statistic: the mean normalised entropy H(q) / log V of the reference-side distributions.
    """

    name = "smoothness"
    label = "smooth"
    summary = "relative error of the gradient's first-order prediction under logit noise (lower better)"
    favours = "divergences whose gradient reliably predicts how they change (no sharp curvature, no saturation)"
    target = "divergence"
    higher_is_better = False
    Params = SmoothnessParams

    def compute(self, candidate, evidence) -> MetricValue:
        stats = evidence.stats(candidate)
        base = stats.values
        err = lin = 0.0
        for pert, linear in stats.perturbed(self.params.eps, self.params.draws):
            ok = torch.isfinite(base) & torch.isfinite(pert) & torch.isfinite(linear)
            err += float((pert[ok] - base[ok] - linear[ok]).abs().sum())
            lin += float(linear[ok].abs().sum())
        if not lin > 0.0:
            return MetricValue(math.nan)
        return MetricValue(err / lin)

    def data_statistics(self, evidence) -> dict[str, float]:
        return {"entropy_q_normalized": float(evidence.normalized_entropy_q.mean())}
