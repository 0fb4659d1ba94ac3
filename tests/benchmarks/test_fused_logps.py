"""The chunked completion-only LM-head log-probs (engine/fused_logps.py) equal the full-logits path."""

from __future__ import annotations

import logging

import pytest
import torch

from dpok_framework.objective import fused_logps
from dpok_framework.objective.fused_logps import ChunkedHeadLogProb, completion_logps, fused_supported, split_head
from dpok_framework.objective.logps import forward_logps


def _tiny(arch: str, seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    if arch == "llama":
        return LlamaForCausalLM(LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=False))
    return GPT2LMHeadModel(GPT2Config(vocab_size=128, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))  # tied head


def _batch(B: int = 3, T: int = 12, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 128, (2 * B, T), generator=g)  # [2B, T]
    attn = torch.ones(2 * B, T, dtype=torch.long)
    attn[1, 9:] = 0  # right padding on two rows
    attn[B + 1, 10:] = 0
    comp = torch.zeros(2 * B, T, dtype=torch.long)
    comp[:, 5:] = 1
    return {"input_ids": ids, "attention_mask": attn, "completion_mask": comp * attn}


@pytest.mark.parametrize("bias", [True, False])
def test_chunked_head_gradcheck_float64(bias):
    g = torch.Generator().manual_seed(1)
    h = torch.randn(7, 5, dtype=torch.float64, generator=g, requires_grad=True)  # [N, H]
    w = torch.randn(11, 5, dtype=torch.float64, generator=g, requires_grad=True)  # [V, H]
    b = torch.randn(11, dtype=torch.float64, generator=g, requires_grad=True) if bias else None
    y = torch.randint(0, 11, (7,), generator=g)
    inputs = (h, w, b) if bias else (h, w)
    fn = (lambda h, w, b: ChunkedHeadLogProb.apply(h, w, b, y, 3)) if bias else \
        (lambda h, w: ChunkedHeadLogProb.apply(h, w, None, y, 2))
    assert torch.autograd.gradcheck(fn, inputs)


def test_chunked_head_matches_log_softmax_reference():
    g = torch.Generator().manual_seed(2)
    h, w, b = torch.randn(9, 4, generator=g), torch.randn(6, 4, generator=g), torch.randn(6, generator=g)
    y = torch.randint(0, 6, (9,), generator=g)
    want = torch.log_softmax(h @ w.t() + b, dim=-1).gather(-1, y[:, None]).squeeze(-1)  # [N]
    for chunk in (1, 4, 9, 100):
        assert torch.allclose(ChunkedHeadLogProb.apply(h, w, b, y, chunk), want, atol=1e-5)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_completion_logps_equal_full_forward_values_and_gradients(arch):
    model, batch = _tiny(arch), _batch()
    full = forward_logps(model, batch, output_hidden_states=True)
    full.logps.sum().backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    fast = forward_logps(model, batch, output_hidden_states=True, need_logits=False)
    assert fast.logits is None  # the fast path ran
    assert torch.allclose(fast.logps, full.logps, atol=1e-4)
    assert torch.equal(fast.lengths, full.lengths) and torch.equal(fast.loss_mask, full.loss_mask)
    assert torch.allclose(fast.hidden, full.hidden)
    fast.logps.sum().backward()
    for n, p in model.named_parameters():
        assert torch.allclose(p.grad, want[n], atol=1e-5), n


def test_models_with_scaled_logits_use_the_full_path():
    model = _tiny("llama")
    model.config.final_logit_softcapping = 30.0  # e.g. Gemma-2: the fast path would miss the soft-cap
    assert split_head(model) is None
    out = forward_logps(model, _batch(), need_logits=False)
    assert out.logits is not None


def test_a_model_whose_forward_disagrees_falls_back(caplog):
    model = _tiny("llama", seed=3)
    original = model.forward

    def scaled_forward(*args, **kwargs):  # a head transformation the fast path cannot see
        out = original(*args, **kwargs)
        out.logits = out.logits * 2.0
        return out

    model.forward = scaled_forward
    batch = _batch()
    with caplog.at_level(logging.WARNING, logger=fused_logps.__name__):
        assert fused_supported(model, batch) is None
    assert "disagree" in caplog.text
    out = forward_logps(model, batch, need_logits=False)
    assert out.logits is not None  # fell back, and stays so for this model
    ref = torch.log_softmax(out.logits.float(), -1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
    assert torch.allclose(out.logps, (ref * out.loss_mask).sum(-1), atol=1e-4)


def test_completion_logps_counts_only_completion_tokens():
    model, batch = _tiny("llama"), _batch()
    parts = split_head(model)
    logps, lengths, mask, hidden = completion_logps(*parts, batch)
    assert hidden is None and logps.shape == (6,)
    expected = (batch["completion_mask"][:, 1:].bool() & batch["attention_mask"][:, 1:].bool()).sum(-1)
    assert torch.equal(lengths, expected)
    assert bool((logps < 0).all())
