"""`dpok train` on a tiny config, the bundled default config, LoRA, rejected options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dpok_framework.cli.main import cli
from dpok_framework.config import load_config, validate_components
from dpok_framework.engine import Engine

from .tiny import run_config

DEFAULT = Path(__file__).resolve().parents[2] / "dpok_framework" / "defaults" / "default.yaml"


def test_default_config_validates_against_the_registry(registry):
    cfg = load_config(DEFAULT)
    validate_components(cfg, registry, source=str(DEFAULT))
    assert cfg.model.path == "builtin:smollm2-135m-instruct"
    assert cfg.kernel.name == "rbf" and cfg.kernel.gamma > 0 and cfg.kernel.embedder.name == "policy_hidden"
    assert cfg.data.max_length <= 256 and cfg.training.max_time_s is not None


def test_cli_train_prints_held_out_comparison(tmp_path, tiny_model_dir, pairs_file):
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    res = CliRunner().invoke(cli, ["train", str(path), "--set", "training.max_steps=2", "-q"])
    assert res.exit_code == 0, res.output
    assert "Held-out preference pairs: 6" in res.output
    assert "trained policy" in res.output and "reference" in res.output
    assert f"Outputs in {tmp_path / 'run'}" in res.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["global_step"] == 2


def test_cli_bad_config_is_one_line_exit_2(tmp_path, tiny_model_dir, pairs_file):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"model": {"path": str(tmp_path / "missing")},
                                    "output": {"dir": str(tmp_path / "r")}}))
    res = CliRunner().invoke(cli, ["train", str(path)])
    assert res.exit_code == 2
    assert "model.path" in res.output and "not a local directory" in res.output


def test_lora_reference_is_the_base_model_with_adapter_disabled(tmp_path, tiny_model_dir, pairs_file):
    pytest.importorskip("peft")
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, model={"path": str(tiny_model_dir),
                                                                   "lora": {"r": 4, "alpha": 8}},
                     training={"max_steps": 2, "lr": 1e-2})
    res = Engine(cfg).train()
    first = json.loads((res.run_dir / "metrics.jsonl").read_text().splitlines()[0])
    assert first["rewards/chosen"] == pytest.approx(0.0, abs=1e-6)  # LoRA B = 0: policy == reference at step 1
    assert (res.run_dir / "model" / "adapter" / "adapter_config.json").is_file()
    assert (res.run_dir / "model" / "model.safetensors").is_file()  # merged weights
    assert res.summary["eval"]["rewards/margins"] != 0.0


@pytest.mark.parametrize("path", sorted((DEFAULT.parents[2] / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_validate(path, registry):
    validate_components(load_config(path), registry, source=str(path))
