"""Wasserstein-1 distance between next-token distributions: token-embedding geometry or an ordered support."""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field

from dpok_framework.components import Divergence, Params
from dpok_framework.errors import ConfigError

from ._numerics import NEG_INF, check_pair
from .sinkhorn import sinkhorn_divergence


class WassersteinParams(Params):
    ground: Literal["auto", "embedding", "ordered"] = Field(
        "auto", description="Ground space. embedding: the bound token embeddings with the metric `cost` (Sinkhorn "
                            "on the top-k union); ordered: |v - w| on the vocabulary index order (exact 1-D closed "
                            "form, for genuinely ordered supports); auto: embedding when embeddings are bound, "
                            "ordered otherwise.")
    cost: Literal["angle", "euclidean", "cosine"] = Field(
        "angle", description="Embedding ground cost. angle: the arc length arccos(cos(E_v, E_w)) in [0, pi] on the unit "
                             "sphere, a metric, scale-free (default); euclidean: |E_v - E_w|, a metric in the "
                             "embedding's own units (set epsilon accordingly); cosine: 1 - cos, NOT a metric (half the "
                             "squared chord, so the value approximates W2^2/2 on the sphere rather than W1). A zero "
                             "embedding row has no direction: under angle/cosine it is at pi/2 (cost 1) from every "
                             "other token; every token is at 0 from itself.")
    top_k: int = Field(64, gt=0, description="Embedding ground: transport is restricted to the union of the top-k "
                                             "tokens of p and of q (restricted masses renormalised).")
    epsilon: float = Field(0.05, gt=0.0, description="Entropic regularisation of Sinkhorn, in cost units "
                                                     "(angle: radians in [0, pi]). The debiased value is within "
                                                     "about epsilon of exact W1 (docs/divergences.md); smaller is "
                                                     "closer but needs more iterations.")
    max_iter: int = Field(200, gt=0, description="Sinkhorn iterations at the target epsilon (after eps-scaling).")
    tol: float = Field(1e-4, gt=0.0, description="Stop when the L1 error of the plan's marginals is below tol.")


class Wasserstein(Divergence):
    """Wasserstein-1 distance W(p, q) = min_{G in Pi(p, q)} sum_vw G_vw C_vw; symmetric; penalty only.

    * embedding ground (after ``bind_token_embeddings(weight [V, d])``; the engine binds the
      policy's input embeddings): C_vw = the angle between E_v and E_w (``cost``; a true metric, so the
      value is W1 on the sphere) on the union U of the top-k tokens of p
      and of q, masses restricted to U and renormalised; the debiased Sinkhorn divergence
      S_eps = OT_eps(p,q) - (OT_eps(p,p) + OT_eps(q,q))/2 in the log domain, which is 0 at p = q and
      tends to W as eps -> 0. The cost is a fixed geometry (detached): the penalty moves the policy,
      not the embeddings. Memory per call: [..., 2k, d] gathered embeddings and [3, ..., 2k, 2k] costs.
    * ordered ground: tokens at positions 0..V-1 on a line, W1 = sum_v |CDF_p(v) - CDF_q(v)| (exact,
      O(V)). Only meaningful for an ordered support (rating bins, binned scores); token ids are not.

    Finite on disjoint supports (where KL/Renyi/Bhattacharyya are infinite). Not an f-divergence, so
    no f-DPO link.
    """

    name = "wasserstein"
    summary = "Wasserstein-1: Sinkhorn over top-k tokens with the embedding angle as ground metric, or exact 1-D"
    symmetric = True
    Params = WassersteinParams

    def __init__(self, params=None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self._token_embeddings: torch.Tensor | None = None

    def bind_token_embeddings(self, weight: torch.Tensor) -> None:
        """Use ``weight [V, d]`` (e.g. ``model.get_input_embeddings().weight``) as the token geometry.

        Stored detached (a view sharing storage, so it follows in-place optimiser updates) and not
        registered as a parameter or buffer of this module.
        """
        if not isinstance(weight, torch.Tensor) or weight.ndim != 2 or weight.shape[0] == 0:
            raise ValueError(f"wasserstein.bind_token_embeddings expects a [V, d] tensor; got "
                             f"{getattr(weight, 'shape', type(weight).__name__)}")
        self._token_embeddings = weight.detach()

    @property
    def ground(self) -> str:
        """The ground actually used: ``embedding`` or ``ordered``."""
        if self.params.ground == "auto":
            return "embedding" if self._token_embeddings is not None else "ordered"
        return self.params.ground

    def forward(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        logp, logq = check_pair(self.name, logp, logq)  # [..., V]
        if self.ground == "ordered":
            return ordered_w1(logp, logq)
        if self._token_embeddings is None:
            raise ConfigError("wasserstein with ground='embedding' needs token embeddings: call "
                              "divergence.bind_token_embeddings(model.get_input_embeddings().weight) first (the "
                              "engine does), or set params.ground: ordered")
        return self._embedding_w(logp, logq)

    def _embedding_w(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        emb = self._token_embeddings
        V = logp.shape[-1]
        if V > emb.shape[0]:
            raise ValueError(f"wasserstein: the distributions have V={V} tokens but the bound embedding matrix "
                             f"has only {emb.shape[0]} rows; bind the embeddings of the model that produced them")
        k = min(self.params.top_k, V)
        idx = torch.cat([logp.topk(k, dim=-1).indices, logq.topk(k, dim=-1).indices], dim=-1)  # [..., 2k]
        idx, _ = idx.sort(dim=-1)
        dup = torch.zeros_like(idx, dtype=torch.bool)
        dup[..., 1:] = idx[..., 1:] == idx[..., :-1]  # a token in both top-k lists appears once
        la = logp.gather(-1, idx).masked_fill(dup, NEG_INF)  # [..., 2k]
        lb = logq.gather(-1, idx).masked_fill(dup, NEG_INF)
        la = la - torch.logsumexp(la, dim=-1, keepdim=True)  # renormalise on the union
        lb = lb - torch.logsumexp(lb, dim=-1, keepdim=True)
        with torch.no_grad():
            cost = ground_cost(emb.to(device=logp.device)[idx].to(logp.dtype), idx, self.params.cost)  # [..., 2k, 2k]
        p = self.params
        return sinkhorn_divergence(la, lb, cost, p.epsilon, p.max_iter, p.tol)


def ground_cost(e: torch.Tensor, idx: torch.Tensor, kind: str) -> torch.Tensor:
    """Cost matrix ``[..., n, n]`` between the embeddings ``e [..., n, d]`` of tokens ``idx [..., n]``.

    angle: 2 asin(|u_v - u_w| / 2) for unit vectors u (the arc length, accurate near 0 unlike arccos of a
    rounded cosine); euclidean: |E_v - E_w|; cosine: 1 - cos. A zero row (no direction) is at pi/2 (angle)
    or 1 (cosine) from every other token, which keeps the angle a metric; a token is at 0 from itself.
    """
    if kind == "euclidean":
        cost = torch.cdist(e, e, compute_mode="donot_use_mm_for_euclid_dist")
    else:
        norm = e.norm(dim=-1, keepdim=True)  # [..., n, 1]
        zero = norm.squeeze(-1) == 0  # [..., n]
        u = e / norm.clamp_min(torch.finfo(e.dtype).tiny)
        if kind == "angle":
            chord = torch.cdist(u, u, compute_mode="donot_use_mm_for_euclid_dist")
            cost = 2.0 * torch.asin((0.5 * chord).clamp(max=1.0))
            orthogonal = math.pi / 2
        else:
            cost = (1.0 - u @ u.transpose(-1, -2)).clamp_min(0.0)
            orthogonal = 1.0
        either = zero.unsqueeze(-1) | zero.unsqueeze(-2)  # [..., n, n]
        cost = torch.where(either, torch.full_like(cost, orthogonal), cost)
    same = idx.unsqueeze(-1) == idx.unsqueeze(-2)  # [..., n, n] the same token (also repeated ids)
    return torch.where(same, torch.zeros_like(cost), cost)


def ordered_w1(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """Exact W1 on the support 0, 1, ..., V-1 with cost |v - w|: sum_v |CDF_p(v) - CDF_q(v)| -> ``[...]``."""
    cdf_gap = (logp.exp() - logq.exp()).cumsum(dim=-1)  # [..., V], CDF_p - CDF_q
    return cdf_gap[..., :-1].abs().sum(dim=-1)
