"""The default kernel learning rate makes HMK's mixture weights learn on the bundled data (issue 16)."""

from __future__ import annotations

import json

import pytest

from dpok_framework.config import KernelConfig, config_from_dict
from dpok_framework.engine import Engine

LEVELS = ("local", "global", "rbf", "polynomial", "spectral", "mahalanobis")


def _weights(run_dir):
    recs = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in recs if r["split"] == "train" and "kernel/weights/local" in r]
    return {k: train[0][f"kernel/weights/{k}"] for k in LEVELS}, {k: train[-1][f"kernel/weights/{k}"] for k in LEVELS}


def _hmk_run(tmp_path, name, model_dir, **kernel):
    cfg = config_from_dict({
        "model": {"path": str(model_dir)},
        "data": {"train": None, "max_samples": 48, "eval_fraction": 0.0, "max_length": 64, "max_prompt_length": 32},
        "kernel": {"name": "hmk", "gamma": 1.0, "fit_samples": 8, **kernel},
        "training": {"lr": 5e-5, "batch_size": 4, "max_steps": 12, "logging_steps": 1, "lr_scheduler": "constant",
                     "seed": 0},
        "output": {"dir": str(tmp_path / name / "run")}})
    Engine(cfg).train()
    return _weights(tmp_path / name / "run")


def test_default_kernel_lr_moves_hmk_weights_on_bundled_data(tmp_path, tiny_model_dir):
    assert KernelConfig().lr == 0.05
    first, last = _hmk_run(tmp_path, "default", tiny_model_dir)
    assert first["local"] == pytest.approx(0.5, abs=0.03)  # logged after the first step, from logits 0
    moved = {k: abs(last[k] - first[k]) for k in LEVELS}
    # 12 steps at the default lr: every level moves measurably (>= 0.01 on a weight of ~0.25-0.5)
    assert moved["local"] > 0.01 and max(moved[m] for m in ("rbf", "polynomial", "spectral", "mahalanobis")) > 0.01
    # the old default (kernel lr = the policy's 5e-5) leaves them at their initial values
    first_old, last_old = _hmk_run(tmp_path, "policy_lr", tiny_model_dir, lr=None)
    assert max(abs(last_old[k] - first_old[k]) for k in LEVELS) < 2e-3
    assert moved["local"] > 10 * abs(last_old["local"] - first_old["local"])
