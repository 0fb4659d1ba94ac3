"""The explicit penalty from final hidden states (HeadLogits), chunk by chunk: equal to the unchunked value for
every registered divergence, gradcheck-clean in float64, and never holding a ``[N, V]`` tensor."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from dpok_framework.components import Divergence
from dpok_framework.objective.fused_logps import HeadLogits
from dpok_framework.objective.penalty import TokenPenalty

R, T, H, V = 2, 4, 3, 6


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    h_pol = torch.randn(R, T, H, generator=g, dtype=torch.float64, requires_grad=True)
    w_pol = (0.7 * torch.randn(V, H, generator=g, dtype=torch.float64)).requires_grad_()
    b_pol = (0.1 * torch.randn(V, generator=g, dtype=torch.float64)).requires_grad_()
    h_ref = torch.randn(R, T, H, generator=g, dtype=torch.float64)
    w_ref = w_pol.detach() + 0.3 * torch.randn(V, H, generator=g, dtype=torch.float64)
    mask = torch.tensor([[False, True, True, True], [False, False, True, True]])  # 5 completion positions
    return h_pol, w_pol, b_pol, h_ref, w_ref, mask


def _divergence(registry, name: str) -> Divergence:
    div = registry.build("divergence", name)
    if type(div).bind_token_embeddings is not Divergence.bind_token_embeddings:
        div.bind_token_embeddings(torch.randn(V, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64))
    return div


def unchunked(div, pol_logits: torch.Tensor, ref_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Reference: full ``[R, T, V]`` logits, one log_softmax each, D at the masked positions, mean."""
    return div(F.log_softmax(pol_logits, -1)[mask], F.log_softmax(ref_logits, -1)[mask]).mean()


def test_every_divergence_chunked_from_hidden_equals_unchunked_and_passes_gradcheck(registry):
    h_pol, w_pol, b_pol, h_ref, w_ref, mask = _inputs()
    names = registry.names("divergence")
    assert len(names) >= 5
    iterative = []
    for name in names:
        div = _divergence(registry, name)
        pen = TokenPenalty(div, chunk_tokens=2)  # 5 positions: chunks of 2, 2, 1

        def chunked(hp, wp, bp):
            return pen(HeadLogits(hp, wp, bp), HeadLogits(h_ref, w_ref, None), mask)

        got = chunked(h_pol, w_pol, b_pol)
        want = unchunked(div, F.linear(h_pol, w_pol, b_pol), F.linear(h_ref, w_ref), mask)
        # 1e-7: iterative divergences (Sinkhorn) stop on a tolerance over the whole batch, so chunks converge apart
        assert torch.allclose(got, want, rtol=1e-7, atol=1e-12), (name, got.item(), want.item())
        g_got = torch.autograd.grad(got, (h_pol, w_pol, b_pol))
        g_want = torch.autograd.grad(want, (h_pol, w_pol, b_pol))
        # exact-arithmetic divergences agree to rounding; an iterative one (values apart by its stopping
        # tolerance) has gradients apart by about as much relative to their size
        rtol = 1e-6 if abs(got.item() - want.item()) < 1e-13 else 1e-3
        for a, b in zip(g_got, g_want):
            assert torch.allclose(a, b, rtol=rtol, atol=rtol * b.abs().max().item()), name
        # the tolerances of the divergence property suite's own float64 gradcheck. A divergence whose
        # composite with log_softmax(W h + b) fails it unchunked too (at the time of writing: Wasserstein's
        # Sinkhorn, stopping at tol=1e-4, whose iteration count moves under the finite-difference steps) is a
        # property of that divergence, not of the chunking; chunking must never be the cause.
        tol = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-4, "raise_exception": False}
        if not torch.autograd.gradcheck(chunked, (h_pol, w_pol, b_pol), **tol):
            def dense(hp, wp, bp):
                return unchunked(div, F.linear(hp, wp, bp), F.linear(h_ref, w_ref), mask)

            assert not torch.autograd.gradcheck(dense, (h_pol, w_pol, b_pol), **tol), f"{name}: chunking breaks gradcheck"
            iterative.append(name)
    assert len(iterative) <= 1, iterative  # only the Sinkhorn-based one may be in this case


def test_mixed_sources_and_top_k_match_the_dense_path(registry):
    """A reference that fell back to full logits next to a fused policy, and the top-k restriction."""
    h_pol, w_pol, b_pol, h_ref, w_ref, mask = _inputs(1)
    ref_dense = F.linear(h_ref, w_ref)  # [R, T, V]
    for top_k in (None, 2):
        pen = TokenPenalty(registry.build("divergence", "js"), top_k=top_k, chunk_tokens=3)
        lazy = pen(HeadLogits(h_pol, w_pol, b_pol), ref_dense, mask)
        dense = TokenPenalty(registry.build("divergence", "js"), top_k=top_k, chunk_tokens=100)(
            F.linear(h_pol, w_pol, b_pol), ref_dense, mask)
        assert torch.allclose(lazy, dense, rtol=1e-10), top_k


def test_rows_and_detach_follow_the_objective(registry):
    h_pol, w_pol, b_pol, h_ref, w_ref, mask = _inputs(2)
    lazy = HeadLogits(h_pol, w_pol, b_pol)
    assert lazy.shape == (R, T, V) and lazy[:1].shape == (1, T, V)
    assert torch.equal(lazy[:1].materialize(), F.linear(h_pol[:1], w_pol, b_pol))
    assert not lazy.detach().hidden.requires_grad and not lazy.detach().weight.requires_grad
    pen = TokenPenalty(registry.build("divergence", "kl"), chunk_tokens=2)
    # gradient reaches the policy only, even when the reference side was not detached by the caller
    ref = HeadLogits(h_ref.clone().requires_grad_(), w_ref.clone().requires_grad_(), None)
    pen(lazy, ref, mask).backward()
    assert h_pol.grad is not None and ref.hidden.grad is None and ref.weight.grad is None


class _LargestTensor(TorchDispatchMode):
    """Records the largest tensor any op produces (forward and backward)."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in (out if isinstance(out, (tuple, list)) else (out,)):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("name", ["kl", "js"])
def test_penalty_never_builds_full_logits(name, registry):
    """N = 2 x 256 completion positions, V = 4096: [N, V] has 2.1M entries; every tensor stays a tile."""
    g = torch.Generator().manual_seed(0)
    Rb, Tb, Hb, Vb, chunk = 2, 256, 8, 4096, 16
    h_pol = torch.randn(Rb, Tb, Hb, generator=g, requires_grad=True)
    w = torch.randn(Vb, Hb, generator=g, requires_grad=True)
    h_ref = torch.randn(Rb, Tb, Hb, generator=g)
    mask = torch.ones(Rb, Tb, dtype=torch.bool)
    pen = TokenPenalty(registry.build("divergence", name), chunk_tokens=chunk)
    with _LargestTensor() as seen:
        loss = pen(HeadLogits(h_pol, w, None), HeadLogits(h_ref, w.detach(), None), mask)
        loss.backward()
    full = Rb * Tb * Vb
    assert seen.largest <= chunk * Vb, (seen.largest, chunk * Vb, full)
    assert h_pol.grad is not None and w.grad is not None


class _CountingDivergence(torch.nn.Module):
    """Wraps a divergence and counts the tiles it is evaluated on."""

    def __init__(self, inner) -> None:
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, logp, logq):
        self.calls += 1
        return self.inner(logp, logq)


@pytest.mark.parametrize("train", [True, False])
def test_each_tile_is_evaluated_once_in_training_and_in_evaluation(train, registry):
    """Forward + backward evaluate the divergence once per tile (the gradient is taken in forward, nothing is
    recomputed), and without gradients no gradient buffer work is done: 5 positions in chunks of 2 -> 3 calls."""
    h_pol, w_pol, b_pol, h_ref, w_ref, mask = _inputs(3)
    div = _CountingDivergence(registry.build("divergence", "kl"))
    pen = TokenPenalty(div, chunk_tokens=2)
    with torch.set_grad_enabled(train):
        value = pen(HeadLogits(h_pol, w_pol, b_pol), HeadLogits(h_ref, w_ref, None), mask)
        if train:
            value.backward()
    assert div.calls == 3
    assert (h_pol.grad is not None and w_pol.grad is not None and b_pol.grad is not None) == train
    assert value.requires_grad == train


def test_gradient_scales_with_the_upstream_gradient(registry):
    """The gradient is computed in forward and scaled in backward: alpha * penalty gets alpha times the grads."""
    h_pol, w_pol, b_pol, h_ref, w_ref, mask = _inputs(4)
    pen = TokenPenalty(registry.build("divergence", "js"), chunk_tokens=2)
    grads = []
    for alpha in (1.0, -0.37):
        value = pen(HeadLogits(h_pol, w_pol, b_pol), HeadLogits(h_ref, w_ref, None), mask)
        grads.append(torch.autograd.grad(alpha * value, (h_pol, w_pol, b_pol)))
    for g1, g2 in zip(*grads):
        assert torch.allclose(g2, -0.37 * g1, rtol=1e-12, atol=0)
