"""Per-sequence log-probabilities of completions, without materialising a log_softmax copy.

log pi(y|x) = sum_{t in completion} (z_t[y_t] - logsumexp(z_t))   (z_t: logits predicting token t)

Public entry point for other subsystems (eval, reports): :func:`sequence_logps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch

from .fused_logps import completion_logps, fused_supported
from .tokens import token_logps, upcast  # noqa: F401  (upcast: re-exported for the penalty)


@dataclass
class ForwardOutput:
    """One forward pass over the concatenated batch (chosen rows first, then rejected).

    logps ``[2B]`` summed completion log-probs; lengths ``[2B]`` completion token counts; logits
    ``[2B, T-1, V]`` shifted so that ``logits[:, t]`` predicts ``input_ids[:, t+1]``, a tensor or, on the
    fast path, a :class:`~dpok_framework.objective.fused_logps.HeadLogits` that computes them a tile at a time
    (the explicit penalty takes either); loss_mask
    ``[2B, T-1]`` (completion tokens in the same shifted frame); hidden ``[2B, T, H]`` last hidden
    state or None. ``logits`` is None when the caller passed ``need_logits=False`` and the fast path ran.
    ``logit_means`` ``[2B]`` (with ``logit_means=True``): the mean logit over the completion tokens and the
    vocabulary, detached (TRL's ``logits/chosen`` / ``logits/rejected`` per sequence).
    """

    logps: torch.Tensor
    lengths: torch.Tensor
    logits: Any  # torch.Tensor | HeadLogits | None
    loss_mask: torch.Tensor
    hidden: torch.Tensor | None
    logit_means: torch.Tensor | None = None


def forward_logps(model: Any, batch: Mapping[str, torch.Tensor], output_hidden_states: bool = False,
                  need_logits: bool = True, logit_means: bool = False) -> ForwardOutput:
    """Run ``model`` once on ``batch['input_ids']`` ``[2B, T]`` and sum completion log-probs.

    The LM head runs on the completion positions only, chunked, without a ``[2B, T, V]`` logits tensor
    (:mod:`dpok_framework.objective.fused_logps`). ``need_logits=False`` (callers that only need
    log-probs/hidden states): ``logits`` is then None; ``need_logits=True``: ``logits`` is a ``HeadLogits``
    (final hidden states + head, tiles on demand). Models the fast path does not cover fall back to the
    full forward, with a logits tensor.
    """
    parts = fused_supported(model, batch)
    if parts is not None:
        logps, lengths, loss_mask, hidden, *lazy = completion_logps(
            *parts, batch, output_hidden_states or logit_means, head_logits=need_logits)
        means = head_logit_means(hidden, parts[1], loss_mask) if logit_means else None
        return ForwardOutput(logps, lengths, lazy[0] if lazy else None, loss_mask,
                             hidden if output_hidden_states else None, means)
    input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
    out = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=output_hidden_states,
                use_cache=False)
    logits = out.logits[:, :-1, :]  # [2B, T-1, V] predicts input_ids[:, 1:]
    labels = input_ids[:, 1:]  # [2B, T-1]
    loss_mask = batch["completion_mask"][:, 1:].to(torch.bool) & attention_mask[:, 1:].to(torch.bool)
    per_token = token_logps(logits, labels)  # [2B, T-1]
    per_token = torch.where(loss_mask, per_token, torch.zeros_like(per_token))
    logps = per_token.sum(-1)  # [2B]
    lengths = loss_mask.sum(-1)  # [2B]
    hidden = out.hidden_states[-1] if output_hidden_states else None  # [2B, T, H]
    means = None
    if logit_means:
        with torch.no_grad():
            means = masked_token_mean(logits.float().mean(-1), loss_mask)  # [2B]
    return ForwardOutput(logps, lengths, logits, loss_mask, hidden, means)


def masked_token_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``x`` ``[N, T]``, ``mask`` ``[N, T]`` -> ``[N]`` mean over the masked positions (0 where none)."""
    return torch.where(mask, x, torch.zeros_like(x)).sum(-1) / mask.sum(-1).clamp(min=1)


def head_logit_means(hidden: torch.Tensor, head: torch.nn.Linear, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean logit over vocabulary and completion tokens without the logits: for a linear head z = W h + b,
    mean_v z_v = h . mean_v(W_v) + mean_v(b_v). hidden ``[2B, T, H]`` -> ``[2B]``."""
    with torch.no_grad():
        w_bar = head.weight.float().mean(0)  # [H]
        b_bar = head.bias.float().mean() if head.bias is not None else 0.0
        z_bar = hidden[:, :-1].float() @ w_bar + b_bar  # [2B, T-1] mean logit predicting token t+1
        return masked_token_mean(z_bar, loss_mask)


def sequence_logps(model: Any, batch: Mapping[str, torch.Tensor], average: bool = False) -> torch.Tensor:
    """``[2B]`` summed (``average=True``: per-token mean) completion log-probs of a collated batch.

    ``batch`` is a :class:`dpok_framework.data.PreferenceCollator` output (chosen rows first, then
    rejected). Runs without gradient; the caller puts ``model`` on the batch's device.
    """
    with torch.no_grad():
        out = forward_logps(model, batch, need_logits=False)
    if average:
        return out.logps / out.lengths.clamp(min=1)
    return out.logps
