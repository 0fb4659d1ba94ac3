"""Per-token log-probabilities from logits (the primitive the plain and the fused paths share).

log p(y_t) = z_t[y_t] - logsumexp(z_t), reduced over the vocabulary in float32 or wider.
"""

from __future__ import annotations

import torch


def upcast(x: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 -> float32; float32/float64 unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def token_logps(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """logits ``[N, T, V]``, labels ``[N, T]`` -> ``[N, T]`` log p(label) = gathered logit - logsumexp."""
    logits = upcast(logits)  # never reduce over the vocabulary in half precision
    picked = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # [N, T]
    return picked - torch.logsumexp(logits, dim=-1)  # [N, T]
