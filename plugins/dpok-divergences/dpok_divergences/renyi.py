"""Renyi divergence of order alpha: D_a(p || q) = log(sum_v p_v^a q_v^(1-a)) / (a - 1)."""

from __future__ import annotations

import torch
from pydantic import Field, field_validator

from dpok_framework.components import Divergence, Params

from ._numerics import INF, NEG_INF, check_pair, expm1mx, near_far, safe, support

_EXP_CAP = 50.0  # largest (a - 1) log(p/q) fed to expm1 in the log1p route; beyond it use logsumexp


class RenyiParams(Params):
    alpha: float = Field(0.5, gt=0.0, description="Order a > 0, a != 1. a < 1 down-weights the tails (finite "
                                                  "when supports merely overlap); a > 1 stresses them (infinite "
                                                  "if the policy puts mass where the reference has none).")

    @field_validator("alpha")
    @classmethod
    def _not_one(cls, v: float) -> float:
        if v == 1.0:
            raise ValueError("alpha = 1 is the KL limit of the Renyi family; use divergence `kl` instead")
        if v == float("inf"):
            raise ValueError("alpha must be finite (the max-divergence a = inf is not implemented)")
        return v


class Renyi(Divergence):
    """Renyi divergence D_a(p || q) = 1/(a - 1) log sum_v p_v^a q_v^(1-a), a > 0, a != 1.

    Non-decreasing in a, tends to KL(p || q) as a -> 1, D_(1/2) = 2 x Bhattacharyya (symmetric only
    at a = 1/2). +inf when the supports do not overlap, and for a > 1 when p_v > 0 = q_v. Not an
    f-divergence (the log of one), so it has no f-DPO link: penalty use only.

    Numerics: with r = log p - log q and sum p = 1, sum p^a q^(1-a) = 1 + sum_v p_v expm1((a-1) r_v),
    evaluated with log1p when that sum is small (accurate near p = q and for a near 1, where the
    logsumexp form loses all digits to cancellation); logsumexp otherwise.
    """

    name = "renyi"
    summary = "Renyi divergence of order alpha (tunable tail sensitivity); penalty only"
    Params = RenyiParams

    def __init__(self, params=None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.symmetric = self.params.alpha == 0.5

    def forward(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        logp, logq = check_pair(self.name, logp, logq)  # [..., V]
        a = self.params.alpha
        pos_p, pos_q = support(logp), support(logq)
        both = pos_p & pos_q  # [..., V]
        only_p = pos_p & ~pos_q
        infinite = ~both.any(-1)  # [...]: no common support, sum p^a q^(1-a) = 0
        if a > 1.0:
            infinite = infinite | only_p.any(-1)
        lp, lq = safe(logp, both), safe(logq, both)  # finite stand-ins, [..., V]

        # route 1: log1p(sum_v p_v expm1((a - 1) r_v) - [a < 1] sum_{q_v = 0} p_v), with each common-support
        # term tilted by -(a - 1)(p_v - q_v) (their sum, (a - 1)(Q_only_q - P_only_p), is added back from the
        # edge masses): q [phi(a r) - a phi(r)], phi(t) = e^t - 1 - t, is second order near p = q and of one
        # sign, so the sum does not cancel in float32
        r = lp - lq  # [..., V]
        x = (a - 1.0) * r
        capped = (both & (x > _EXP_CAP)).any(-1)
        p_, q_ = lp.exp(), lq.exp()
        tilted = near_far(r, lambda rn: q_ * (expm1mx(a * rn) - a * expm1mx(rn)),
                          lambda: p_ * torch.expm1(x.clamp(max=_EXP_CAP)) - (a - 1.0) * (p_ - q_))
        excess = torch.where(both, tilted, torch.zeros_like(x)).sum(-1)
        mass_only_p = torch.where(only_p, logp.exp(), torch.zeros_like(logp)).sum(-1)  # [...]
        mass_only_q = torch.where(pos_q & ~pos_p, logq.exp(), torch.zeros_like(logq)).sum(-1)
        excess = excess + (a - 1.0) * (mass_only_q - mass_only_p)
        if a < 1.0:
            excess = excess - mass_only_p
        use_log1p = (excess.abs() < 0.5) & ~capped  # [...]

        # route 2: logsumexp_v(a log p_v + (1 - a) log q_v) over the common support
        s = torch.where(both, a * lp + (1.0 - a) * lq, torch.full_like(lp, NEG_INF))
        s = torch.where(infinite.unsqueeze(-1), torch.zeros_like(s), s)  # keep empty rows' grads finite
        lse = torch.logsumexp(s, dim=-1)  # [...]

        log_s = torch.where(use_log1p, torch.log1p(torch.where(use_log1p, excess, torch.zeros_like(excess))), lse)
        d = (log_s / (a - 1.0)).clamp_min(0.0)  # >= 0 in exact arithmetic; clamp rounding below 0
        return torch.where(infinite, torch.full_like(d, INF), d)
