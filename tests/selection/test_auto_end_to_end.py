"""`kernel: auto` / `divergence.link: auto` end to end: the engine runs the selector on a sample of the
training pairs, records the choice and its evidence in the run directory, and trains with it."""

from __future__ import annotations

import json

import pytest
from engine.tiny import fresh_accelerate  # noqa: F401  (fixture)



def test_kernel_and_divergence_auto_train_and_record(tmp_path, fresh_accelerate):
    import torch

    from dpok_framework.engine import Engine
    from engine.tiny import run_config, save_tiny_model, write_pairs

    model_dir = save_tiny_model(tmp_path / "model")
    pairs = write_pairs(tmp_path / "pairs.jsonl", n=24)
    cfg = run_config(tmp_path, model_dir, pairs, kernel={"name": "auto", "gamma": 0.5},
                     divergence={"link": "auto"}, training={"max_steps": 2},
                     selection={"sample_size": 12, "kernels": ["rbf", "polynomial", "spectral"],
                                "divergences": ["kl", "js", "hellinger", "wasserstein"], "positions_per_pair": 4})
    res = Engine(cfg).train()
    sel_dir = res.run_dir / "selection"
    report = json.loads((sel_dir / "selection.json").read_text())
    resolved = json.loads((sel_dir / "resolved.json").read_text())
    assert resolved["kernel"]["name"] == report["kernel"]["name"] in ("rbf", "polynomial", "spectral")
    assert resolved["divergence"]["link"]["name"] == report["divergence"]["name"]
    assert report["divergences"]["candidates"][-1]["ruled_out"] is not None  # wasserstein: no f-DPO link
    assert (sel_dir / "heatmap.png").stat().st_size > 1000 and (sel_dir / "selection.md").is_file()
    assert res.global_step == 2
    # the chosen kernel is the one the engine trained with (its fitted state is saved)
    from dpok_framework import get_registry

    kernel_state = torch.load(res.run_dir / "kernel.pt")
    chosen = get_registry().build("kernel", report["kernel"])
    assert set(kernel_state) == set(chosen.state_dict())
