"""Explicit token-level divergence penalty: mean over completion tokens of D(pi(.|ctx) || pi_ref(.|ctx)).

penalty = (1/N) sum_{t in completion} D(softmax(z_t) || softmax(z_t^ref)),   z_t = W h_t + b

Never builds ``[2B, T, V]``: policy and reference come as :class:`~dpok_framework.objective.fused_logps.HeadLogits`
(final hidden states + head), and the penalty computes both logits tiles ``[n, V]`` for ``n`` completion
positions at a time, applies the divergence (through the :class:`~dpok_framework.components.Divergence`
API only: ``D(log_softmax(z), log_softmax(z_ref))``) and sums; in training each tile's gradient is taken
right there, so a tile is computed once and what is kept for backward is the ``[N, H]`` and ``[V, H]``
gradient buffers; the peak is a few ``[n, V]`` tiles with ``n * V <= TILE_ELEMENTS``. Models without the fast path
hand over full logits tensors; the same chunking then only saves the per-token work's memory.
With ``top_k`` both distributions are restricted to the union of their top-k tokens and renormalised
there (duplicate indices get zero mass in both), an approximation documented in docs/engine.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable
from torch.utils.checkpoint import checkpoint

from .fused_logps import HeadLogits, _compute_dtype
from .logps import upcast

TILE_ELEMENTS = 1 << 21  # logits per [n, V] tile (8 MiB in float32); a few tiles are alive at a time


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


def _head_tile(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, cd: torch.dtype) -> torch.Tensor:
    """hidden rows ``[n, H]`` -> logits ``[n, V]`` in the compute dtype ``cd`` (explicit: backward runs
    outside autocast)."""
    return F.linear(h.to(cd), w.to(cd), None if b is None else b.to(cd))


class ChunkedHeadPenalty(torch.autograd.Function):
    """sum_t D(softmax(W h_t + b) || softmax(W' h'_t + b')) over N positions, ``chunk`` at a time.

    Inputs: policy hidden ``[N, H]``, weight ``[V, H]``, bias; reference hidden ``[N, H]``, weight, bias
    (no gradient); ``tile_sum`` maps logits tiles ``(pol [n, V], ref [n, V])`` to a scalar (the divergence,
    through its public API); ``want``: which of (h, W, b) need a gradient. Each tile is computed once: when a
    gradient is wanted, d tile_sum / d z is taken with autograd on that tile alone, right after its value,
    and dh = dz W, dW += dz^T h, db += sum dz are accumulated into single buffers; backward only scales them
    by the incoming scalar gradient. So the divergence and the two heads run once per tile (no recomputation,
    unlike :class:`~dpok_framework.objective.fused_logps.ChunkedHeadLogProb`, whose per-token gradient is a
    closed form), and what stays alive from forward to backward is ``[N, H]`` and one ``[V, H]`` buffer.
    """

    @staticmethod
    def forward(ctx, h, w, b, h_ref, w_ref, b_ref, tile_sum, chunk: int, want: tuple[bool, bool, bool]):
        cd, cd_ref = _compute_dtype(h), _compute_dtype(h_ref)
        acc = torch.promote_types(cd, torch.float32)
        need_h, need_w, need_b = want
        grad_h = torch.empty_like(h) if need_h else None  # [N, H]
        grad_w = torch.zeros(w.shape, dtype=acc, device=w.device) if need_w else None  # [V, H]
        grad_b = torch.zeros(w.shape[0], dtype=acc, device=w.device) if need_b else None  # [V]
        total = None
        for s in range(0, h.shape[0], chunk):
            hs = h[s:s + chunk]  # [n, H]
            z = _head_tile(hs, w, b, cd)  # [n, V]
            z_ref = _head_tile(h_ref[s:s + chunk], w_ref, b_ref, cd_ref)  # [n, V]
            # the divergence on float32+ logits, value and gradient alike (no autocast inside it)
            with torch.autocast(z.device.type, enabled=False):
                if not any(want):
                    part = tile_sum(z, z_ref)
                else:
                    z.requires_grad_(True)
                    with torch.enable_grad():
                        part = tile_sum(z, z_ref)
                        (gz,) = torch.autograd.grad(part, z)  # [n, V]
                    part, gz = part.detach(), gz.to(acc)
                    if need_h:
                        grad_h[s:s + chunk] = (gz.to(cd) @ w.to(cd)).to(h.dtype)  # [n, H]
                    if need_w:
                        grad_w.addmm_(gz.t(), hs.to(acc))  # [V, H]
                    if need_b:
                        grad_b += gz.sum(0)
            total = part if total is None else total + part
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        ctx.dtypes = (h.dtype, w.dtype, None if b is None else b.dtype)
        return total

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        grads = []
        for g, dtype in zip(ctx.saved_tensors, ctx.dtypes):
            grads.append(None if g is None else (g * grad_out.to(g.dtype)).to(dtype))
        return (*grads, None, None, None, None, None, None)


def _source(x) -> tuple[torch.Tensor, callable]:
    """Logits ``[R, T, V]`` (tensor or HeadLogits) -> (flat per-position inputs ``[R*T, *]``, inputs -> logits)."""
    if isinstance(x, HeadLogits):
        return x.flat_inputs(), x.tile  # [R*T, H], [n, H] -> [n, V]
    return x.reshape(-1, x.shape[-1]), lambda z: z  # [R*T, V] (a view), identity


class TokenPenalty:
    """Wraps a registered divergence as the engine's explicit penalty."""

    def __init__(self, divergence: torch.nn.Module, top_k: int | None = None, chunk_tokens: int | None = None
                 ) -> None:
        self.divergence = divergence
        self.top_k = top_k
        self.chunk_tokens = chunk_tokens  # None: TILE_ELEMENTS // V positions per chunk

    def _tile(self, pol: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """pol/ref logits ``[n, V]`` -> scalar: sum over the tile's positions of D(policy || reference)."""
        pol, ref = upcast(pol), upcast(ref)  # [n, V]
        if self.top_k is not None:
            pol, ref, _ = _union_top_k(pol, ref, self.top_k)  # [n, 2k]
        logp = F.log_softmax(pol, dim=-1)  # [n, V'] policy
        logq = F.log_softmax(ref, dim=-1)  # [n, V'] reference
        return self.divergence(logp, logq).sum()  # scalar

    def __call__(self, pol_logits, ref_logits, mask: torch.Tensor) -> torch.Tensor:
        """pol/ref logits ``[R, T, V]`` (tensors or HeadLogits), mask ``[R, T]`` (bool) -> scalar mean of D
        over the masked positions. Gradient flows to the policy side only."""
        if isinstance(ref_logits, torch.Tensor):
            ref_logits = ref_logits.detach()
        elif isinstance(ref_logits, HeadLogits):
            ref_logits = ref_logits.detach()
        V = pol_logits.shape[-1]
        pos = mask.reshape(-1).nonzero().squeeze(-1)  # [N] flat completion positions
        pol_in, pol_fn = _source(pol_logits)
        ref_in, ref_fn = _source(ref_logits)
        if pos.numel() == 0:
            return pol_in.sum() * 0.0
        n = self.chunk_tokens or max(1, TILE_ELEMENTS // V)
        p_all, q_all = pol_in.index_select(0, pos), ref_in.index_select(0, pos)  # [N, *] each
        if isinstance(pol_logits, HeadLogits) and isinstance(ref_logits, HeadLogits):
            w, b = pol_logits.weight, pol_logits.bias
            want = tuple(torch.is_grad_enabled() and x is not None and x.requires_grad for x in (p_all, w, b))
            total = ChunkedHeadPenalty.apply(p_all, w, b, q_all, ref_logits.weight, ref_logits.bias, self._tile, n,
                                             want)
            return total / pos.numel()
        # a side with full logits (a model off the fast path): checkpointed chunks of one gather per side,
        # split so that a single backward node scatters all chunks' gradients at once

        def chunk_sum(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
            return self._tile(pol_fn(p), ref_fn(q))

        total = None
        grad = torch.is_grad_enabled() and (p_all.requires_grad or (isinstance(pol_logits, HeadLogits)
                                                                    and pol_logits.weight.requires_grad))
        for p, q in zip(p_all.split(n), q_all.split(n)):
            part = checkpoint(chunk_sum, p, q, use_reentrant=False) if grad else chunk_sum(p, q)
            total = part if total is None else total + part
        return total / pos.numel()
