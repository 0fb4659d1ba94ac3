"""TRL's logits/chosen and logits/rejected: the mean logit over completion tokens and vocabulary, the same on
the fused path (no logits tensor: computed from the last hidden state) as on the full-logits path."""

from __future__ import annotations

import pytest
import torch

from dpok_framework.objective.logps import forward_logps

from .test_objective import make_batch
from .tiny import tiny_gpt2, tiny_llama


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_fused_logit_means_equal_the_full_logits_mean(arch):
    model = (tiny_llama if arch == "llama" else tiny_gpt2)(seed=3).eval()
    batch, seqs = make_batch()
    fused = forward_logps(model, batch, need_logits=False, logit_means=True)
    full = forward_logps(model, batch, need_logits=True, logit_means=True)
    assert fused.logits is None and full.logits is not None
    # direct: one sequence at a time, mean of every logit at the positions predicting completion tokens
    direct = []
    for p, c in seqs:
        logits = model(input_ids=torch.tensor([p + c])).logits[0].double()  # [L, V]
        direct.append(logits[len(p) - 1:len(p) + len(c) - 1].mean())
    direct = torch.stack(direct)
    torch.testing.assert_close(full.logit_means.double(), direct, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fused.logit_means.double(), direct, rtol=1e-5, atol=1e-5)
    assert not fused.logit_means.requires_grad
