"""The objective in isolation: exact reduction to DPO, log-probs, gradient flow, the token penalty."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dpok_framework.config import config_from_dict
from dpok_framework.objective.fused_logps import HeadLogits
from dpok_framework.objective.logps import forward_logps, token_logps
from dpok_framework.objective.objective import ReferenceOutput, build_objective
from dpok_framework.objective.penalty import TokenPenalty

from .tiny import char_tokenizer, tiny_gpt2, tiny_llama

PAIRS = [("Q: is it ok?\nA: ", "sure, kind help", "no. rude harm"),
         ("Q: help me\nA: ", "yes, good", "bad bad bad bad"),
         ("Q: thanks\nA: ", "fine", "no. harm harm")]


def make_batch(pairs=PAIRS):
    """Collated batch built by hand (independent of the data package): chosen rows, then rejected."""
    tok = char_tokenizer()
    P = [[tok.bos_token_id] + tok(p, add_special_tokens=False)["input_ids"] for p, _, _ in pairs]
    C = [tok(c, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for _, c, _ in pairs]
    R = [tok(r, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for _, _, r in pairs]
    seqs = [(p, c) for p, c in zip(P, C)] + [(p, r) for p, r in zip(P, R)]
    T = max(len(p) + len(c) for p, c in seqs)
    n = len(seqs)
    ids = torch.zeros(n, T, dtype=torch.long)
    att, pm, cm = (torch.zeros(n, T, dtype=torch.long) for _ in range(3))
    for i, (p, c) in enumerate(seqs):
        ids[i, :len(p) + len(c)] = torch.tensor(p + c)
        att[i, :len(p) + len(c)] = 1
        pm[i, :len(p)] = 1
        cm[i, len(p):len(p) + len(c)] = 1
    batch = {"input_ids": ids, "attention_mask": att, "prompt_mask": pm, "completion_mask": cm,
             "row": torch.arange(len(pairs))}
    return batch, seqs


def reference_logp(model, seqs):
    """Independent computation: one sequence at a time, full log_softmax, completion positions by length."""
    out = []
    for p, c in seqs:
        ids = torch.tensor([p + c])
        logits = model(input_ids=ids).logits[0]  # [L, V]
        logp = torch.log_softmax(logits.double(), -1)
        out.append(sum(logp[len(p) + j - 1, c[j]] for j in range(len(c))))
    return torch.stack(out)


def objective_for(policy, registry, **sections):
    cfg = config_from_dict({"model": {"path": "unused"}, **sections})
    return build_objective(cfg, registry, policy)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_gamma_alpha_zero_with_kl_link_is_exactly_dpo(arch, registry):
    policy = (tiny_llama if arch == "llama" else tiny_gpt2)(seed=1).double()
    ref = (tiny_llama if arch == "llama" else tiny_gpt2)(seed=2).double().eval()
    batch, seqs = make_batch()
    beta = 0.3
    obj = objective_for(policy, registry, loss={"name": "sigmoid", "beta": beta})
    with torch.no_grad():
        ref_logps = forward_logps(ref, batch).logps
    out = obj(batch, ReferenceOutput(ref_logps))
    out.loss.backward()
    got_grads = [p.grad.clone() for p in policy.parameters()]
    policy.zero_grad()

    # standard DPO, written out independently
    B = len(PAIRS)
    pol = reference_logp(policy, seqs)
    with torch.no_grad():
        rf = reference_logp(ref, seqs)
    h = (pol[:B] - rf[:B]) - (pol[B:] - rf[B:])
    want = -F.logsigmoid(beta * h).mean()
    want.backward()
    assert torch.allclose(out.loss.double(), want, rtol=0, atol=1e-10)
    for g, p in zip(got_grads, policy.parameters()):
        assert torch.allclose(g, p.grad, rtol=1e-7, atol=1e-10)
    assert torch.allclose(out.metrics["rewards/margins"].double(), beta * h.detach(), atol=1e-10)


def test_token_logps_matches_log_softmax_gather():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 11, generator=g) * 4
    labels = torch.randint(0, 11, (3, 5), generator=g)
    want = torch.log_softmax(logits, -1).gather(-1, labels[..., None]).squeeze(-1)
    assert torch.allclose(token_logps(logits, labels), want, atol=1e-6)


def test_token_logps_gradcheck():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 7, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 7, (2, 3), generator=g)
    assert torch.autograd.gradcheck(lambda z: token_logps(z, labels).double(), (logits,))


def test_kernel_term_sends_gradient_to_policy_and_kernel(registry):
    policy = tiny_llama(seed=1)
    ref = tiny_llama(seed=1).eval()
    batch, _ = make_batch()
    obj = objective_for(policy, registry, kernel={"name": "rbf", "params": {"learnable": True}, "gamma": 0.5})
    assert obj.kernel is not None and obj.needs_hidden
    with torch.no_grad():
        h = ref(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                output_hidden_states=True).hidden_states[-1]
        e_x, e_p, e_n = obj.embeddings_from_hidden(h, batch)
    obj.kernel.fit(torch.cat([e_x, e_p, e_n]))
    with torch.no_grad():
        ref_logps = forward_logps(ref, batch).logps
    out = obj(batch, ReferenceOutput(ref_logps))
    out.loss.backward()
    kparams = [p for p in obj.kernel.parameters()]
    assert kparams and all(p.grad is not None and p.grad.abs().sum() > 0 for p in kparams)
    g_kernel = [p.grad.clone() for p in policy.parameters()]
    assert all(g is not None for g in g_kernel)
    # policy = reference: the probability term is at log sigmoid(0); the kernel term changes the policy gradient
    policy.zero_grad()
    plain = objective_for(policy, registry)
    plain(batch, ReferenceOutput(ref_logps)).loss.backward()
    diff = sum((a - p.grad).abs().sum() for a, p in zip(g_kernel, policy.parameters()))
    assert diff > 1e-6
    assert "kernel/log_ratio" in out.metrics


def full_penalty(div, pol_logits, ref_logits, mask):
    """The unchunked penalty from full logits (a HeadLogits is materialised first)."""
    pol_logits, ref_logits = (x.materialize() if isinstance(x, HeadLogits) else x for x in (pol_logits, ref_logits))
    lp = torch.log_softmax(pol_logits.double(), -1)[mask]
    lq = torch.log_softmax(ref_logits.double(), -1)[mask]
    return div(lp, lq).mean()


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_chunked_penalty_equals_direct_mean_and_gradient(chunk, registry):
    div = registry.build("divergence", "kl")
    g = torch.Generator().manual_seed(0)
    pol = torch.randn(2, 4, 9, generator=g, dtype=torch.float64, requires_grad=True)
    ref = torch.randn(2, 4, 9, generator=g, dtype=torch.float64)
    mask = torch.tensor([[0, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    got = TokenPenalty(div, chunk_tokens=chunk)(pol, ref, mask)
    (g_got,) = torch.autograd.grad(got, pol)
    want = full_penalty(div, pol, ref, mask)
    (g_want,) = torch.autograd.grad(want, pol)
    assert torch.allclose(got.double(), want, atol=1e-6)
    assert torch.allclose(g_got, g_want, atol=1e-6)


def test_top_k_penalty_with_full_support_equals_full_penalty(registry):
    div = registry.build("divergence", "kl")
    g = torch.Generator().manual_seed(1)
    pol = torch.randn(1, 5, 6, generator=g)
    ref = torch.randn(1, 5, 6, generator=g)
    mask = torch.ones(1, 5, dtype=torch.bool)
    full = TokenPenalty(div)(pol, ref, mask)
    topk = TokenPenalty(div, top_k=6)(pol, ref, mask)
    assert torch.allclose(full, topk, atol=1e-5)
    small = TokenPenalty(div, top_k=2)(pol, ref, mask)
    assert torch.isfinite(small) and small >= 0


def test_penalty_gradcheck(registry):
    div = registry.build("divergence", "kl")
    g = torch.Generator().manual_seed(2)
    pol = torch.randn(1, 3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    ref = torch.randn(1, 3, 5, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 0, 1]], dtype=torch.bool)

    def f(z):
        lp = torch.log_softmax(z, -1)[mask]
        lq = torch.log_softmax(ref, -1)[mask]
        return div(lp, lq).mean()

    # the engine's chunked path casts to float32, so gradcheck the same formula in float64
    assert torch.autograd.gradcheck(f, (pol,))
    assert torch.allclose(TokenPenalty(div, chunk_tokens=1)(pol, ref, mask).double(), f(pol), atol=1e-6)


def test_explicit_penalty_adds_alpha_times_mean_token_divergence(registry):
    policy = tiny_llama(seed=1)
    ref = tiny_llama(seed=3).eval()
    batch, _ = make_batch()
    with torch.no_grad():
        r = forward_logps(ref, batch)
    base = objective_for(policy, registry)
    pen = objective_for(policy, registry, divergence={"link": "kl", "penalty": "kl", "alpha": 0.7})
    lb = base(batch, ReferenceOutput(r.logps, r.logits)).loss
    out = pen(batch, ReferenceOutput(r.logps, r.logits))
    with torch.no_grad():
        pol = forward_logps(policy, batch)
        want = full_penalty(registry.build("divergence", "kl"), pol.logits, r.logits, pol.loss_mask)
    assert torch.allclose(out.metrics["divergence/kl"].double(), want, atol=1e-5)
    assert torch.allclose(out.loss - lb, 0.7 * want.float(), atol=1e-5)
    chosen_only = objective_for(policy, registry, divergence={"link": "kl", "penalty": "kl", "alpha": 0.7,
                                                              "penalty_on": "chosen"})
    oc = chosen_only(batch, ReferenceOutput(r.logps, r.logits))
    B = len(PAIRS)
    with torch.no_grad():
        want_c = full_penalty(registry.build("divergence", "kl"), pol.logits[:B], r.logits[:B], pol.loss_mask[:B])
    assert torch.allclose(oc.metrics["divergence/kl"].double(), want_c, atol=1e-5)


def test_every_registered_divergence_works_as_penalty_and_every_link_as_link(registry):
    policy = tiny_llama(seed=1)
    ref = tiny_llama(seed=3).eval()
    batch, _ = make_batch([("Q: ok?\nA: ", "fine", "no. bad")])  # few tokens: some divergences are costly
    with torch.no_grad():
        r = forward_logps(ref, batch)
    for name in registry.names("divergence"):
        obj = objective_for(policy, registry, divergence={"link": "kl", "penalty": name, "alpha": 0.1,
                                                          "penalty_on": "chosen"})
        out = obj(batch, ReferenceOutput(r.logps, r.logits))
        policy.zero_grad()
        out.loss.backward()
        assert torch.isfinite(out.loss), name
        assert torch.isfinite(out.metrics[f"divergence/{name}"]) and out.metrics[f"divergence/{name}"] >= -1e-6, name
        assert all(torch.isfinite(p.grad).all() for p in policy.parameters() if p.grad is not None), name
        if registry.get("divergence", name).cls.has_link:
            linked = objective_for(policy, registry, divergence={"link": name})
            assert torch.isfinite(linked(batch, ReferenceOutput(r.logps)).loss), name


def test_top_k_penalty_is_rejected_for_geometry_aware_divergences(registry):
    from dpok_framework.components import Divergence
    from dpok_framework.errors import ConfigError

    geometric = [n for n, c in registry.classes("divergence").items()
                 if c.bind_token_embeddings is not Divergence.bind_token_embeddings]
    if not geometric:
        pytest.skip("no geometry-aware divergence registered")
    with pytest.raises(ConfigError, match="penalty_top_k"):
        objective_for(tiny_llama(), registry,
                      divergence={"penalty": geometric[0], "alpha": 0.1, "penalty_top_k": 4})


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_kernel_fit_embeddings_equal_the_training_pass_embeddings(arch, registry):
    from dpok_framework.objective.kernel_fit import policy_hidden_embeddings

    model = (tiny_llama if arch == "llama" else tiny_gpt2)(seed=4)
    batch, _ = make_batch()
    obj = objective_for(model, registry, kernel={"name": "rbf", "gamma": 0.5})
    emb = policy_hidden_embeddings(model, obj.embedder, [batch], n_pairs=2, device="cpu")  # [2, 3, H]
    with torch.no_grad():
        out = forward_logps(model, batch, output_hidden_states=True)
    e_x, e_p, e_n = obj.embeddings_from_hidden(out.hidden, batch)
    want = torch.stack([e_x, e_p, e_n], dim=1)[:2]
    assert emb.shape == want.shape and torch.allclose(emb, want, atol=1e-5)
