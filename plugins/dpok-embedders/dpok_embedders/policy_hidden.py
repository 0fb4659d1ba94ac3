"""``policy_hidden``: e_x and e_y from the policy's own final hidden states (masked mean pooling).

For sequence i with hidden states h_it (t = 0..T-1) and a 0/1 mask m_it:

    pool(h, m)_i = sum_t m_it h_it / max(sum_t m_it, 1)                      [2B, H]
    e_prompt     = pool(h, prompt_mask),   e_completion = pool(h, completion_mask)
    normalize    : e <- e / max(||e||_2, eps)   (an all-zero mask gives the zero vector, finite gradient)

The hidden states come from the same forward pass as the log-probabilities, so the kernel term
carries gradient to the policy.  In a causal LM the prompt positions only see prompt tokens, so rows b
and B + b (chosen / rejected of one pair) give the same e_prompt up to rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from dpok_framework.components import Embedder, Params


class PolicyHiddenParams(Params):
    normalize: bool = Field(True, description="L2-normalise the pooled embeddings (unit norm).")
    eps: float = Field(1e-12, gt=0.0, description="Floor of the norm in the L2 normalisation.")


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """hidden ``[N, T, H]``, mask ``[N, T]`` (0/1 or bool) -> ``[N, H]`` mean over masked positions (0 if none)."""
    w = mask.to(hidden.dtype).unsqueeze(-1)  # [N, T, 1]
    total = (hidden * w).sum(dim=1)  # [N, H]
    count = w.sum(dim=1).clamp_min(1.0)  # [N, 1]
    return total / count  # [N, H]


class PolicyHiddenEmbedder(Embedder):
    """Masked mean of the policy's final hidden states over prompt / completion positions (+ L2 norm)."""

    name = "policy_hidden"
    summary = "mean-pooled policy hidden states (gradient flows into the policy)"
    uses_policy_hidden = True
    Params = PolicyHiddenParams

    def pool_hidden(self, hidden: torch.Tensor, prompt_mask: torch.Tensor, completion_mask: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        if hidden.dim() != 3:
            raise ValueError(f"policy_hidden: hidden must be [N, T, H], got shape {tuple(hidden.shape)}")
        for label, mask in (("prompt_mask", prompt_mask), ("completion_mask", completion_mask)):
            if tuple(mask.shape) != tuple(hidden.shape[:2]):
                raise ValueError(f"policy_hidden: {label} has shape {tuple(mask.shape)}, expected "
                                 f"{tuple(hidden.shape[:2])} (the first two dims of hidden)")
        # pool in at least float32: bf16 sums over long sequences lose precision
        h = hidden.to(torch.promote_types(hidden.dtype, torch.float32))  # [N, T, H]
        e_prompt = masked_mean(h, prompt_mask)  # [N, H]
        e_completion = masked_mean(h, completion_mask)  # [N, H]
        if self.params.normalize:
            e_prompt = F.normalize(e_prompt, p=2.0, dim=-1, eps=self.params.eps)
            e_completion = F.normalize(e_completion, p=2.0, dim=-1, eps=self.params.eps)
        return e_prompt, e_completion
