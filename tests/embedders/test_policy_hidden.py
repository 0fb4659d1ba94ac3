"""policy_hidden: masked mean pooling values, L2 normalisation, gradients, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpok_framework.errors import ComponentParamsError


@pytest.fixture
def emb(registry):
    return registry.build("embedder", "policy_hidden")


def _masks():
    prompt = torch.tensor([[1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]])
    completion = torch.tensor([[0, 0, 1, 1, 0], [0, 1, 1, 1, 1], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]])
    return prompt, completion


def _reference(h, m, normalize):
    out = np.zeros((h.shape[0], h.shape[2]))
    for i in range(h.shape[0]):
        sel = h[i][m[i].astype(bool)]
        if len(sel):
            out[i] = sel.mean(0)
        if normalize and np.linalg.norm(out[i]) > 0:
            out[i] = out[i] / np.linalg.norm(out[i])
    return out


@pytest.mark.parametrize("normalize", [True, False])
def test_values_match_numpy(registry, normalize):
    emb = registry.build("embedder", {"name": "policy_hidden", "params": {"normalize": normalize}})
    assert emb.uses_policy_hidden
    h = torch.randn(4, 5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pm, cm = _masks()
    e_p, e_c = emb.pool_hidden(h, pm, cm)
    assert e_p.shape == e_c.shape == (4, 6)
    np.testing.assert_allclose(e_p.numpy(), _reference(h.numpy(), pm.numpy(), normalize), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(e_c.numpy(), _reference(h.numpy(), cm.numpy(), normalize), rtol=1e-12, atol=1e-12)
    if normalize:
        np.testing.assert_allclose(e_c[:3].norm(dim=-1).numpy(), 1.0, rtol=1e-12)
    assert torch.equal(e_p[3], torch.zeros(6)) and torch.equal(e_c[3], torch.zeros(6))  # empty mask -> 0


@pytest.mark.parametrize("normalize", [True, False])
def test_gradcheck_float64(registry, normalize):
    emb = registry.build("embedder", {"name": "policy_hidden", "params": {"normalize": normalize}})
    pm, cm = _masks()
    h = torch.randn(4, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: emb.pool_hidden(x, pm, cm), (h,))


def test_gradient_flows_only_through_masked_positions_and_is_finite(emb):
    pm, cm = _masks()
    h = torch.randn(4, 5, 6, requires_grad=True)
    e_p, e_c = emb.pool_hidden(h, pm, cm)
    (e_p.sum() + (e_c * torch.randn_like(e_c)).sum()).backward()
    assert torch.isfinite(h.grad).all()
    touched = (h.grad.abs().sum(-1) > 0).long()  # [4, 5]
    assert torch.equal(touched, ((pm + cm) > 0).long() & touched)
    assert touched[:, -1].tolist()[:3] == [0, 1, 0] and touched[3].sum() == 0


def test_low_precision_input_pooled_in_float32(emb):
    pm, cm = _masks()
    e_p, e_c = emb.pool_hidden(torch.randn(4, 5, 6).bfloat16(), pm.bool(), cm.bool())
    assert e_p.dtype == e_c.dtype == torch.float32


def test_shape_and_param_errors(emb, registry):
    pm, cm = _masks()
    with pytest.raises(ValueError, match="hidden must be \\[N, T, H\\]"):
        emb.pool_hidden(torch.randn(4, 5), pm, cm)
    with pytest.raises(ValueError, match="completion_mask has shape \\(4, 4\\), expected \\(4, 5\\)"):
        emb.pool_hidden(torch.randn(4, 5, 2), pm, cm[:, :4])
    with pytest.raises(ComponentParamsError):
        registry.build("embedder", {"name": "policy_hidden", "params": {"eps": 0.0}})
    with pytest.raises(NotImplementedError):
        emb.encode_texts(["a"])
