"""Support overlap: does the divergence stay defined when the distributions' supports do not nest?"""

from __future__ import annotations

import torch
from pydantic import Field

from dpok_framework.components import Params
from dpok_framework.components.selection import MetricValue, SelectionMetric


class SupportOverlapParams(Params):
    core_mass: float = Field(0.999, gt=0.0, lt=1.0,
                             description="Core support of a distribution: the smallest set of outcomes holding "
                                         "this much of its mass.")
    tail_factor: float = Field(1e-3, gt=0.0, le=1.0,
                               description="Full support = the smallest set holding 1 - tail_factor * "
                                           "(1 - core_mass) of the mass (0.999999 by default).")
    veto_nonfinite: bool = Field(True, description="Rule a divergence out when it is +inf on any pair of the "
                                                   "(untruncated) evidence.")


class SupportOverlap(SelectionMetric):
    """Score = fraction of pairs i with D(p^c_i || q^f_i) or D(p^f_i || q^c_i) finite, where ^c keeps a
    distribution's core support (the smallest set of outcomes holding ``core_mass`` = 99.9% of it) and
    ^f its full support (all but a 1e-6 tail), each renormalised.

    Distributions from a softmax are never exactly 0, so "support" means effective support.  Letting one
    side keep its full support while the other keeps its core means a pair only counts against a
    divergence when one distribution puts core mass where the other has essentially none (not when two
    near-identical distributions cut their tails at slightly different places); trying both orientations
    treats D(p||q) and D(q||p) alike.  KL is finite only when supp p lies inside supp q, Bhattacharyya and
    Renyi when the supports meet; JS, Hellinger and Wasserstein always.  So on poorly overlapping data
    this metric favours the latter (the paper's "low overlap -> avoid KL").  A divergence that is +inf on
    the evidence itself is vetoed: it cannot be used on this data at all.  Higher is better.
    Data statistic: the Bhattacharyya coefficient BC = sum_v sqrt(p_v q_v) (mean and minimum over pairs)
    and the fraction of pairs whose core p-support lies inside the full q-support.
    """

    name = "support_overlap"
    label = "overlap"
    summary = "fraction of pairs where D stays finite on effective supports; +inf on the data vetoes (higher better)"
    favours = "divergences that stay finite when supports do not overlap (JS, Hellinger, Wasserstein)"
    target = "divergence"
    higher_is_better = True
    Params = SupportOverlapParams

    def _full_mass(self) -> float:
        return 1.0 - self.params.tail_factor * (1.0 - self.params.core_mass)

    def compute(self, candidate, evidence) -> MetricValue:
        stats = evidence.stats(candidate)
        infinite = int((~torch.isfinite(stats.values)).sum())
        veto = None
        if infinite and self.params.veto_nonfinite:
            veto = (f"D(p || q) is +inf on {infinite} of {evidence.n} pairs "
                    f"(mean support overlap BC = {float(evidence.bhattacharyya_coefficient.mean()):.3g})")
        core, full = self.params.core_mass, self._full_mass()
        ok = torch.isfinite(stats.truncated(core, full)) | torch.isfinite(stats.truncated(full, core))  # [M]
        return MetricValue(float(ok.double().mean()), veto=veto, details={"nonfinite_pairs": float(infinite)})

    def data_statistics(self, evidence) -> dict[str, float]:
        bc = evidence.bhattacharyya_coefficient
        tp = evidence.truncated(self.params.core_mass, "p")
        tq = evidence.truncated(self._full_mass(), "q")
        nested = (~(torch.isfinite(tp) & ~torch.isfinite(tq))).all(-1)  # core supp p inside full supp q
        return {"bc_mean": float(bc.mean()), "bc_min": float(bc.min()),
                "nested_support_fraction": float(nested.double().mean())}
