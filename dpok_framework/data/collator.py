"""Batching tokenised pairs for ONE concatenated forward pass per step (chosen rows, then rejected rows).

For a batch of B pairs with prompt ids ``P_b`` and completion ids ``C+_b`` / ``C-_b``:

    input_ids[b]     = P_b + C+_b + pad          (b = 0..B-1)
    input_ids[B + b] = P_b + C-_b + pad
    attention_mask   = 1 on real tokens, 0 on padding
    prompt_mask      = 1 on P_b positions
    completion_mask  = 1 on C positions
    row              = the pairs' source rows, [B]

Right padding to T = the longest sequence (rounded up to ``pad_to_multiple_of``).  The engine scores
completion tokens with ``logits[:, :-1]`` against ``input_ids[:, 1:]`` masked by ``completion_mask[:, 1:]``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from ..errors import DataError

REQUIRED = ("prompt_input_ids", "chosen_input_ids", "rejected_input_ids")


class PreferenceCollator:
    """``list[example] -> dict`` of ``input_ids``, ``attention_mask``, ``completion_mask``, ``prompt_mask``
    (all ``[2B, T]`` long) and ``row`` (``[B]`` long)."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        if isinstance(pad_token_id, bool) or not isinstance(pad_token_id, int) or pad_token_id < 0:
            raise DataError(f"PreferenceCollator: pad_token_id must be a non-negative int, got {pad_token_id!r} "
                            "(tokenizers without a pad token: pass tokenizer.eos_token_id)")
        if pad_to_multiple_of is not None and (isinstance(pad_to_multiple_of, bool)
                                               or not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of < 1):
            raise DataError(f"PreferenceCollator: pad_to_multiple_of must be a positive int or None, got "
                            f"{pad_to_multiple_of!r}")
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, examples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        if not examples:
            raise DataError("PreferenceCollator: empty batch")
        for i, ex in enumerate(examples):
            missing = [k for k in REQUIRED if k not in ex]
            if missing:
                raise DataError(f"PreferenceCollator: example {i} lacks {missing}; run tokenize_pairs first")
        B = len(examples)
        prompts = [list(ex["prompt_input_ids"]) for ex in examples]
        completions = ([list(ex["chosen_input_ids"]) for ex in examples]
                       + [list(ex["rejected_input_ids"]) for ex in examples])  # [2B] lists
        prompts2 = prompts + prompts  # [2B] prompts: rows b and B + b share P_b
        lengths = [len(p) + len(c) for p, c in zip(prompts2, completions)]
        T = max(lengths)
        if self.pad_to_multiple_of:
            m = self.pad_to_multiple_of
            T = (T + m - 1) // m * m
        input_ids = torch.full((2 * B, T), self.pad_token_id, dtype=torch.long)  # [2B, T]
        attention_mask = torch.zeros((2 * B, T), dtype=torch.long)  # [2B, T]
        prompt_mask = torch.zeros((2 * B, T), dtype=torch.long)  # [2B, T]
        completion_mask = torch.zeros((2 * B, T), dtype=torch.long)  # [2B, T]
        for i, (p, c) in enumerate(zip(prompts2, completions)):
            lp, lc = len(p), len(c)
            input_ids[i, :lp + lc] = torch.tensor(p + c, dtype=torch.long)
            attention_mask[i, :lp + lc] = 1
            prompt_mask[i, :lp] = 1
            completion_mask[i, lp:lp + lc] = 1
        rows = [int(ex["row"]) if "row" in ex else i for i, ex in enumerate(examples)]
        return {"input_ids": input_ids, "attention_mask": attention_mask, "completion_mask": completion_mask,
                "prompt_mask": prompt_mask, "row": torch.tensor(rows, dtype=torch.long)}  # row: [B]
