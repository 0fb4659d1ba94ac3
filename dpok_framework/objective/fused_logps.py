"""Completion log-probs straight from the last hidden state: the LM head runs on completion positions only,
in token chunks, and no ``[2B, T, V]`` logits tensor (nor its log-softmax) is ever materialised.

For a completion token y_t with last hidden state h_t (position t-1 predicts token t), head W ``[V, H]``, b:

    z_t              = W h_t + b                          (logits, one chunk of tokens at a time)
    log pi(y_t | <t) = z_t[y_t] - logsumexp_v z_t[v]
    d log pi / d z_t = onehot(y_t) - softmax(z_t)          (backward recomputes z_t per chunk)

Cost: the head's FLOPs scale with the number of completion tokens instead of all 2B*T positions, and
peak memory for the head is one ``[chunk, V]`` tile instead of the full logits (and their softmax in
backward). The fast path is used only for a plain ``nn.Linear`` output head over a backbone reachable
through ``base_model_prefix`` with no logit scaling/soft-capping, with full (unsharded) weights; on first
use per model it is checked against the model's own forward on one row, and any model that fails the
conditions or the check falls back to the reference path (:func:`dpok_framework.objective.logps.forward_logps`
with logits).

:class:`HeadLogits` stands for the full logits ``[R, T, V]`` of such a model without building them: the final
hidden states ``[R, T, H]`` and the head. The explicit penalty (:mod:`dpok_framework.objective.penalty`) asks it
for ``[n, V]`` tiles of the positions it needs, so neither the policy's nor the reference's ``[2B, T, V]``
logits ever exist.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Mapping

import torch

logger = logging.getLogger(__name__)

CHUNK_ELEMENTS = 1 << 24  # logits per tile (64 MiB in float32)
_SCALING_ATTRS = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier",
                  "logits_scaling")
_verified: "weakref.WeakKeyDictionary[torch.nn.Module, bool]" = weakref.WeakKeyDictionary()


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    dev = x.device.type
    if torch.is_autocast_enabled(dev):
        return torch.get_autocast_dtype(dev)
    return x.dtype


class ChunkedHeadLogProb(torch.autograd.Function):
    """hidden ``[N, H]``, weight ``[V, H]``, bias ``[V]`` or None, targets ``[N]`` -> log p(target) ``[N]``
    (float32, float64 for float64 inputs), computed ``chunk`` tokens at a time; backward recomputes each tile."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk: int):
        cd = _compute_dtype(hidden)
        acc = torch.promote_types(cd, torch.float32)  # reduce over the vocabulary in >= float32
        N = hidden.shape[0]
        out = torch.empty(N, dtype=acc, device=hidden.device)  # [N]
        lse = torch.empty(N, dtype=acc, device=hidden.device)  # [N]
        w = weight.to(cd)
        for s in range(0, N, chunk):
            h = hidden[s:s + chunk].to(cd)  # [n, H]
            z = (h @ w.t()).to(acc)  # [n, V]
            if bias is not None:
                z += bias.to(acc)
            lse[s:s + chunk] = torch.logsumexp(z, dim=-1)  # [n]
            out[s:s + chunk] = z.gather(-1, targets[s:s + chunk, None]).squeeze(-1) - lse[s:s + chunk]
        ctx.save_for_backward(hidden, weight, bias, targets, lse)
        ctx.chunk, ctx.cd, ctx.acc = chunk, cd, acc
        return out

    @staticmethod
    def backward(ctx, grad_out):
        hidden, weight, bias, targets, lse = ctx.saved_tensors
        cd, acc, chunk = ctx.cd, ctx.acc, ctx.chunk
        need_h, need_w, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        if grad_out is None:
            return None, None, None, None, None
        grad_out = grad_out.to(acc)
        w = weight.to(cd)
        grad_h = torch.empty_like(hidden) if need_h else None  # [N, H]
        grad_w = torch.zeros(weight.shape, dtype=acc, device=weight.device) if need_w else None  # [V, H]
        grad_b = torch.zeros(weight.shape[0], dtype=acc, device=weight.device) if need_b else None
        for s in range(0, hidden.shape[0], chunk):
            h = hidden[s:s + chunk].to(cd)  # [n, H]
            g = grad_out[s:s + chunk]  # [n]
            z = (h @ w.t()).to(acc)  # [n, V] recomputed
            if bias is not None:
                z += bias.to(acc)
            z.sub_(lse[s:s + chunk, None]).exp_().mul_(-g[:, None])  # -g * softmax
            rows = torch.arange(z.shape[0], device=z.device)
            z[rows, targets[s:s + chunk]] += g  # g * (onehot - softmax) = dL/dz  [n, V]
            if need_h:
                grad_h[s:s + chunk] = (z.to(cd) @ w).to(hidden.dtype)  # [n, H]
            if need_w:
                grad_w.addmm_(z.t(), h.to(acc))  # [V, H]
            if need_b:
                grad_b += z.sum(0)
        return (grad_h, None if grad_w is None else grad_w.to(weight.dtype),
                None if grad_b is None else grad_b.to(bias.dtype), None, None)


class HeadLogits:
    """The logits ``head(hidden)`` ``[R, T, V]`` of final hidden states ``[R, T, H]``, computed on demand, a
    tile of positions at a time (:meth:`tile`). Supports what the objective does with logits: row
    selection (``x[rows]``), ``detach()``, ``shape``; :meth:`materialize` builds the full tensor (tests)."""

    def __init__(self, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        self.hidden, self.weight, self.bias = hidden, weight, bias  # [R, T, H], [V, H], [V] or None

    @property
    def shape(self) -> torch.Size:
        return torch.Size((*self.hidden.shape[:-1], self.weight.shape[0]))

    @property
    def device(self) -> torch.device:
        return self.hidden.device

    def __getitem__(self, rows) -> "HeadLogits":
        return HeadLogits(self.hidden[rows], self.weight, self.bias)

    def detach(self) -> "HeadLogits":
        return HeadLogits(self.hidden.detach(), self.weight.detach(),
                          None if self.bias is None else self.bias.detach())

    def flat_inputs(self) -> torch.Tensor:
        """``[R*T, H]``: what :meth:`tile` takes rows of."""
        return self.hidden.reshape(-1, self.hidden.shape[-1])

    def tile(self, h: torch.Tensor) -> torch.Tensor:
        """hidden rows ``[n, H]`` -> logits ``[n, V]`` (in the autocast dtype when autocast is on)."""
        cd = _compute_dtype(h)
        return torch.nn.functional.linear(h.to(cd), self.weight.to(cd), None if self.bias is None
                                          else self.bias.to(cd))

    def materialize(self) -> torch.Tensor:
        """The full ``[R, T, V]`` logits (what this class exists to avoid; for tests and small inputs)."""
        return self.tile(self.flat_inputs()).reshape(self.shape)


def split_head(model: Any) -> tuple[torch.nn.Module, torch.nn.Linear] | None:
    """(backbone, output head) when ``model`` qualifies for the fast path, else None."""
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT: the (injected) model
    get_head = getattr(lm, "get_output_embeddings", None)
    head = get_head() if callable(get_head) else None
    if type(head) is not torch.nn.Linear:
        return None
    config = getattr(lm, "config", None)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    if any(getattr(text_config, a, None) not in (None, 1, 1.0) for a in _SCALING_ATTRS):
        return None
    prefix = getattr(lm, "base_model_prefix", None)
    backbone = getattr(lm, prefix, None) if prefix else None
    if not isinstance(backbone, torch.nn.Module) or backbone is lm:
        return None
    w = head.weight
    vocab = getattr(text_config, "vocab_size", None)
    if (w.dim() != 2 or w.numel() == 0 or hasattr(w, "ds_id") or type(w).__name__ == "DTensor"
            or (vocab is not None and w.shape[0] != vocab)):
        return None  # sharded (ZeRO-3 / FSDP2) or unusual head: the module call path gathers it
    return backbone, head


def completion_logps(backbone: torch.nn.Module, head: torch.nn.Linear, batch: Mapping[str, torch.Tensor],
                     output_hidden_states: bool = False, head_logits: bool = False):
    """One backbone forward over ``batch['input_ids']`` ``[2B, T]``; returns (logps ``[2B]``, lengths ``[2B]``,
    loss_mask ``[2B, T-1]``, hidden ``[2B, T, H]`` or None, and with ``head_logits`` a :class:`HeadLogits`
    standing for the shifted logits ``[2B, T-1, V]``)."""
    input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
    # the final hidden states (what the head reads) are the backbone's output: no per-layer tuple is needed
    out = backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    last = out.last_hidden_state  # [2B, T, H]
    loss_mask = batch["completion_mask"][:, 1:].to(torch.bool) & attention_mask[:, 1:].to(torch.bool)  # [2B, T-1]
    seq, pos = loss_mask.nonzero(as_tuple=True)  # [N] each: completion tokens (row, predicting position)
    h = last[seq, pos]  # [N, H] the state at t-1 predicts token t
    targets = input_ids[seq, pos + 1]  # [N]
    w = head.weight
    chunk = max(1, CHUNK_ELEMENTS // w.shape[0])
    per_token = ChunkedHeadLogProb.apply(h, w, head.bias, targets, chunk)  # [N] float32
    logps = per_token.new_zeros(input_ids.shape[0]).index_add(0, seq, per_token)  # [2B]
    hidden = last if output_hidden_states else None  # [2B, T, H] == hidden_states[-1]
    if head_logits:
        return logps, loss_mask.sum(-1), loss_mask, hidden, HeadLogits(last[:, :-1], w, head.bias)
    return logps, loss_mask.sum(-1), loss_mask, hidden


def fused_supported(model: Any, batch: Mapping[str, torch.Tensor]) -> tuple[torch.nn.Module, torch.nn.Linear] | None:
    """The (backbone, head) to use for ``model``, verified once per model against its own forward."""
    parts = split_head(model)
    if parts is None:
        return None
    key = model.get_base_model() if hasattr(model, "get_base_model") else model
    ok = _verified.get(key)
    if ok is None:
        ok = _check(model, parts, batch)
        _verified[key] = ok
        if not ok:
            logger.warning("%s: chunked completion log-probs disagree with the model's own forward; using the "
                           "full-logits path for this model", type(key).__name__)
    return parts if ok else None


def _check(model, parts, batch) -> bool:
    one = {k: batch[k][:1] for k in ("input_ids", "attention_mask", "completion_mask")}  # [1, T]
    was_training = model.training
    model.eval()  # dropout off, so both paths see the same network
    try:
        return _compare(model, parts, one)
    finally:
        model.train(was_training)


def _compare(model, parts, one) -> bool:
    from .tokens import token_logps

    with torch.no_grad():
        fast = completion_logps(*parts, one)[0]  # [1]
        logits = model(input_ids=one["input_ids"], attention_mask=one["attention_mask"], use_cache=False).logits
        mask = one["completion_mask"][:, 1:].bool() & one["attention_mask"][:, 1:].bool()
        ref = torch.where(mask, token_logps(logits[:, :-1], one["input_ids"][:, 1:]), 0.0).sum(-1)  # [1]
    half = _compute_dtype(logits) in (torch.float16, torch.bfloat16)
    tol = (2e-2 if half else 1e-4) * max(1.0, float(mask.sum())) + 1e-4  # summed over the completion tokens
    return bool(torch.isfinite(fast).all()) and float((fast - ref.float()).abs().max()) <= tol
