"""End to end on a tiny Llama: the engine releases the Mahalanobis covariance through dp_covariance, records
the spend in privacy.json, and a release past the budget stops `dpok train` cleanly before any training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from engine import tiny as TINY  # the engine tests' tiny model and data helpers


@pytest.fixture(autouse=True)
def _fresh_accelerate(monkeypatch, tmp_path):
    monkeypatch.setenv("DPOK_CACHE", str(tmp_path / "dpok-cache"))
    TINY.reset_accelerate()
    yield
    TINY.reset_accelerate()


@pytest.fixture(scope="module")
def tiny_run_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy-e2e")
    return TINY.save_tiny_model(root / "model"), TINY.write_pairs(root / "pairs.jsonl", n=24)


def _config(tmp_path, inputs, **privacy):
    model, pairs = inputs
    return TINY.run_config(tmp_path, model, pairs, kernel={"name": "mahalanobis", "gamma": 0.5},
                           training={"max_steps": 2},
                           privacy={"wrapper": "dp_covariance", "epsilon": 1.0, "delta": 1e-3, **privacy})


def test_private_run_records_the_spend_and_trains_on_the_released_covariance(tmp_path, tiny_run_inputs):
    from dpok_framework.engine import Engine

    cfg = _config(tmp_path, tiny_run_inputs, clip=0.5)
    res = Engine(cfg).train()
    doc = json.loads((res.run_dir / "privacy.json").read_text())
    assert doc["wrapper"] == "dp_covariance" and doc["refused"] == 0
    (rel,) = doc["releases"]
    assert rel["rows_per_record"] == 3  # one record = one preference pair (prompt, chosen, rejected)
    assert 0.99 <= doc["spent"]["epsilon"] <= 1.0 and doc["spent"]["delta"] == 1e-3
    assert doc["opacus_history"] == [[doc["noise_multiplier"], 1.0, 1]]
    # the kernel trained with the released S: its spectrum obeys the release's public bounds [floor, clip^2]
    chol = torch.load(res.run_dir / "kernel.pt")["chol"].double()
    evals = torch.linalg.eigvalsh(chol @ chol.T)
    d = chol.shape[0]
    assert float(evals.min()) >= 1e-3 * 0.25 / d * (1 - 1e-4) and float(evals.max()) <= 0.25 * (1 + 1e-4)


def test_release_past_the_budget_stops_dpok_train_before_training(tmp_path, tiny_run_inputs):
    from dpok_framework.cli.main import cli

    cfg = _config(tmp_path, tiny_run_inputs, params={"noise_multiplier": 0.05})  # one release >> epsilon 1
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    result = CliRunner().invoke(cli, ["train", str(path), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "Error: privacy budget exhausted: covariance release #1" in result.output
    assert "Traceback" not in result.output
    run = Path(cfg.output.dir)
    assert not (run / "model").exists() and not (run / "metrics.jsonl").exists()
    assert not (run / "privacy.json").exists()  # nothing was released, nothing charged


def test_resume_restores_the_released_covariance_without_a_second_release(tmp_path, tiny_run_inputs):
    from dpok_framework.engine import Engine

    cfg = _config(tmp_path, tiny_run_inputs, clip=0.5)
    cfg.training.save_steps = 1
    first = Engine(cfg).train()
    doc_before = (first.run_dir / "privacy.json").read_text()
    chol_before = torch.load(first.run_dir / "kernel.pt")["chol"]
    TINY.reset_accelerate()
    cfg = _config(tmp_path, tiny_run_inputs, clip=0.5)
    cfg.training.save_steps, cfg.training.max_steps = 1, 3
    resumed = Engine(cfg, resume=True).train()
    assert resumed.global_step == 3
    assert (resumed.run_dir / "privacy.json").read_text() == doc_before  # nothing spent twice
    torch.testing.assert_close(torch.load(resumed.run_dir / "kernel.pt")["chol"], chol_before, rtol=0, atol=0)
