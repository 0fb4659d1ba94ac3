"""The Reference object: TR-DPO sync (formula, schedule, checkpoint + bit-exact resume mid-period), config checks."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from dpok_framework.engine import Engine, latest_checkpoint
from dpok_framework.errors import ConfigError
from dpok_framework.training.reference import REFERENCE_FILE, Reference, sync_weights

from .tiny import reset_accelerate, run_config, tiny_llama, train_until_killed


def test_sync_is_alpha_policy_plus_one_minus_alpha_reference_every_tau_steps():
    policy, ref = tiny_llama(seed=1), tiny_llama(seed=2)
    before = {k: v.detach().double().clone() for k, v in ref.named_parameters()}
    pol = {k: v.detach().double() for k, v in policy.named_parameters()}

    class Acc:  # Reference only needs is_main_process / autocast from the accelerator here
        is_main_process = True

    r = Reference("synced", ref, policy, Acc(), mixup_alpha=0.25, sync_steps=3)
    assert not r.after_step(1, policy) and not r.after_step(2, policy)
    assert all(torch.equal(v.double(), before[k]) for k, v in ref.named_parameters())
    assert r.after_step(3, policy)
    for k, v in ref.named_parameters():
        torch.testing.assert_close(v.double(), 0.25 * pol[k] + 0.75 * before[k], rtol=1e-6, atol=1e-7)
    sync_weights(ref, policy, 1.0)  # alpha = 1: the reference becomes the policy
    assert all(torch.equal(v, dict(policy.named_parameters())[k]) for k, v in ref.named_parameters())


def test_sync_needs_a_live_reference_of_the_same_shapes(tmp_path, tiny_model_dir, pairs_file):
    with pytest.raises(ValueError, match="precompute_ref_log_probs"):
        run_config(tmp_path, tiny_model_dir, pairs_file, training={"sync_ref_model": True,
                                                                  "precompute_ref_log_probs": True})
    with pytest.raises(ConfigError, match="different parameters"):
        Reference("synced", tiny_llama(vocab_size=64), tiny_llama(), accelerator=None)


def _sync_sections():
    return dict(training={"max_steps": 6, "save_steps": 3, "batch_size": 3, "logging_steps": 1, "lr": 5e-3,
                          "sync_ref_model": True, "ref_model_mixup_alpha": 0.5, "ref_model_sync_steps": 2})


def test_tr_dpo_resumed_in_the_middle_of_a_sync_period_is_bit_exact(tmp_path, tiny_model_dir, pairs_file,
                                                                     monkeypatch):
    full = Engine(run_config(tmp_path / "a", tiny_model_dir, pairs_file, **_sync_sections())).train()
    assert full.summary["reference_mode"] == "synced"
    reset_accelerate()
    cfg = run_config(tmp_path / "b", tiny_model_dir, pairs_file, **_sync_sections())
    # killed during step 5: checkpoint 3 lies between the syncs at 2 and 4
    train_until_killed(Engine(cfg), monkeypatch, at_forward=5)
    ckpt = latest_checkpoint(cfg.output.dir)
    assert ckpt.name == "step-00000003"
    reset_accelerate()
    resumed = Engine(cfg, resume=True).train()
    assert resumed.global_step == 6
    a, b = (load_file(str(r.run_dir / "model" / "model.safetensors")) for r in (full, resumed))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # bit-exact policy
    ra, rb = (load_file(str(latest_checkpoint(r.run_dir) / REFERENCE_FILE)) for r in (full, resumed))
    assert all(torch.equal(ra[k], rb[k]) for k in ra)  # bit-exact synced reference
    # the reference really moved: step 3's (synced at 2) differs from the initial weights and from step 6's
    r3 = load_file(str(ckpt / REFERENCE_FILE))
    init = load_file(str(tiny_model_dir / "model.safetensors"))
    name = "model.layers.0.mlp.up_proj.weight"
    assert not torch.equal(r3[name], init[name]) and not torch.equal(r3[name], ra[name])
