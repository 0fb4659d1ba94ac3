"""Explicit token-level divergence penalty: mean over completion tokens of D(pi(.|ctx) || pi_ref(.|ctx)).

penalty = (1/N) sum_{t in completion} D(softmax(z_t) || softmax(z_t^ref))

Computed in chunks of ``chunk_tokens`` positions; each chunk's log_softmax is recomputed in backward
(activation checkpointing), so peak memory is O(chunk_tokens * V), not O(N * V).
With ``top_k`` both distributions are restricted to the union of their top-k tokens and renormalised
there (duplicate indices get zero mass in both), an approximation documented in docs/engine.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from .logps import upcast


def _union_top_k(pol: torch.Tensor, ref: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """pol/ref logits ``[n, V]`` -> logits on the union support ``[n, 2k]`` each, and its ids ``[n, 2k]``."""
    k = min(k, pol.shape[-1])
    with torch.no_grad():
        idx = torch.cat([pol.topk(k, dim=-1).indices, ref.topk(k, dim=-1).indices], dim=-1)  # [n, 2k]
        idx, _ = idx.sort(dim=-1)
        dup = torch.zeros_like(idx, dtype=torch.bool)
        dup[:, 1:] = idx[:, 1:] == idx[:, :-1]  # second copy of a token shared by both top-k sets
    neg_inf = torch.full((), float("-inf"), dtype=pol.dtype, device=pol.device)
    pol_s = torch.where(dup, neg_inf, pol.gather(-1, idx))  # [n, 2k]
    ref_s = torch.where(dup, neg_inf, ref.gather(-1, idx))  # [n, 2k]
    return pol_s, ref_s, idx


class TokenPenalty:
    """Wraps a registered divergence as the engine's explicit penalty."""

    def __init__(self, divergence: torch.nn.Module, top_k: int | None = None, chunk_tokens: int = 1024) -> None:
        self.divergence = divergence
        self.top_k = top_k
        self.chunk_tokens = chunk_tokens

    def _chunk(self, pol: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        pol, ref = upcast(pol), upcast(ref)  # [n, V]
        if self.top_k is not None:
            pol, ref, _ = _union_top_k(pol, ref, self.top_k)  # [n, 2k]
        logp = F.log_softmax(pol, dim=-1)  # [n, V'] policy
        logq = F.log_softmax(ref, dim=-1)  # [n, V'] reference
        return self.divergence(logp, logq).sum()  # scalar: sum over the chunk's tokens

    def __call__(self, pol_logits: torch.Tensor, ref_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """pol/ref logits ``[R, T, V]``, mask ``[R, T]`` (bool) -> scalar mean of D over masked positions."""
        V = pol_logits.shape[-1]
        flat_mask = mask.reshape(-1)  # [R*T]
        pos = flat_mask.nonzero().squeeze(-1)  # [N]
        if pos.numel() == 0:
            return pol_logits.sum() * 0.0
        pol_flat = pol_logits.reshape(-1, V)  # [R*T, V] (a view)
        ref_flat = ref_logits.reshape(-1, V).detach()  # [R*T, V]
        total = upcast(pol_logits.new_zeros(()))
        for start in range(0, pos.numel(), self.chunk_tokens):
            chunk = pos[start:start + self.chunk_tokens]  # [n]
            p, q = pol_flat.index_select(0, chunk), ref_flat.index_select(0, chunk)  # [n, V] each
            if torch.is_grad_enabled() and p.requires_grad:
                total = total + checkpoint(self._chunk, p, q, use_reentrant=False)
            else:
                total = total + self._chunk(p, q)
        return total / pos.numel()
