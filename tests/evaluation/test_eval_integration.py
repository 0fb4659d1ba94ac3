"""End to end on a tiny trained run: `dpok eval` / `dpok analyze` / `dpok report` against the engine's numbers."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from dpok_framework.cli.main import cli
from dpok_framework.config import config_from_dict
from dpok_framework.errors import ConfigError, DataError
from dpok_framework.evaluation.evaluate import evaluate, load_kernel_state
from dpok_framework.evaluation.rundir import read_metrics

from engine.tiny import reset_accelerate, save_tiny_model, write_pairs  # tests/engine helpers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 3-step HMK run (policy-hidden embeddings, gamma 0.3) whose held-out file is known."""
    from dpok_framework.engine import Engine

    root = tmp_path_factory.mktemp("evalrun")
    old = os.environ.get("DPOK_CACHE")
    os.environ["DPOK_CACHE"] = str(root / "cache")
    model = save_tiny_model(root / "base")
    train = write_pairs(root / "train.jsonl", n=16, seed=0)
    held = write_pairs(root / "held.jsonl", n=7, seed=3)
    cfg = config_from_dict({
        "model": {"path": str(model)},
        "data": {"train": str(train), "eval": str(held), "max_length": 64, "max_prompt_length": 32},
        "kernel": {"name": "hmk", "gamma": 0.3, "entropy_weight": 0.01, "lr": 0.05},
        "training": {"lr": 5e-3, "batch_size": 4, "max_steps": 3, "logging_steps": 1, "eval_steps": 2,
                     "lr_scheduler": "constant", "seed": 0},
        "output": {"dir": str(root / "run")}})
    reset_accelerate()
    Engine(cfg).train()
    reset_accelerate()
    yield {"root": root, "run": root / "run", "held": held, "base": model}
    if old is None:
        os.environ.pop("DPOK_CACHE", None)
    else:
        os.environ["DPOK_CACHE"] = old


def test_eval_matches_engine_final_eval(trained):
    reset_accelerate()
    res = evaluate(trained["run"], batch_size=3)  # --data defaults to the run's data.eval (= held)
    last = [r for r in read_metrics(trained["run"]) if r["split"] == "eval"][-1]
    m = res.metrics
    assert m["num_pairs"] == 7
    # one definition: every metric of the training run's last eval row, same name, same value
    row = {k: v for k, v in last.items() if k not in ("step", "epoch", "split")}
    assert {"rewards/accuracies", "rewards/margins", "logps/chosen", "logits/chosen", "logits/rejected",
            "objective/margin", "objective/accuracy", "kernel/log_ratio"} <= set(row)
    for key, value in row.items():
        assert m[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
    # the HMK weights were learned (lr 0.05): eval reports the trained ones, not the initial uniform ones
    train_last = [r for r in read_metrics(trained["run"]) if r["split"] == "train"][-1]
    for name in ("rbf", "polynomial", "spectral", "mahalanobis"):
        assert res.kernel_weights[name] == pytest.approx(train_last[f"kernel/weights/{name}"], rel=1e-5)
    for key in ("davies_bouldin/hidden", "davies_bouldin/hidden_reference", "davies_bouldin/kernel"):
        assert 0 < m[key] < 100
    # files
    out = trained["run"] / "eval"
    js = json.loads((out / "eval.json").read_text())
    assert js["metrics"] == pytest.approx(m) and js["kernel"] == "hmk"
    assert [p["step"] for p in js["drift"]["points"]] == [2, 3]  # eval at step 2 and the final one
    rows = list(csv.DictReader((out / "pairs.csv").open()))
    assert len(rows) == 7 and sorted(int(r["index"]) for r in rows) == list(range(7))
    acc = sum(float(r["rewards/margins"]) > 0 for r in rows) / 7
    assert acc == pytest.approx(m["rewards/accuracies"])


def test_kernel_state_roundtrip_and_errors(trained, tmp_path):
    from dpok_framework import get_registry

    state = torch.load(trained["run"] / "kernel.pt", weights_only=True)
    k = get_registry().build("kernel", "hmk")
    k.fit(torch.randn(30, 32))
    load_kernel_state(k, trained["run"] / "kernel.pt")
    assert set(k.state_dict()) == set(state)
    for key, v in k.state_dict().items():
        assert torch.equal(v, state[key]) if isinstance(v, torch.Tensor) else v == state[key], key
    bad = tmp_path / "bad.pt"
    torch.save({"nope.weight": torch.zeros(1)}, bad)
    with pytest.raises(DataError, match="nope.weight"):
        load_kernel_state(k, bad)


def test_eval_cli_model_dir_needs_reference_and_analyze_report(trained, tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["eval", str(trained["run"] / "model"), "--data", str(trained["held"])])
    assert r.exit_code == 2 and "--reference" in r.output
    reset_accelerate()
    r = runner.invoke(cli, ["eval", str(trained["run"] / "model"), "--data", str(trained["held"]), "--reference",
                            str(trained["base"]), "--out", str(tmp_path / "ev"), "--beta", "0.1"])
    assert r.exit_code == 0, r.output
    assert "rewards/accuracies" in r.output and (tmp_path / "ev" / "pairs.csv").is_file()
    plain = json.loads((tmp_path / "ev" / "eval.json").read_text())
    # a bare model directory has no objective config: no kernel term, default beta / data lengths
    assert "kernel/log_ratio" not in plain["metrics"] and plain["kernel"] is None and plain["beta"] == 0.1
    assert plain["metrics"]["num_pairs"] == 7

    r = runner.invoke(cli, ["analyze", str(trained["run"]), "--min-evals", "16", "--layers"])
    assert r.exit_code == 0, r.output
    ht = json.loads((trained["run"] / "eval" / "htsr.json").read_text())
    assert ht["policy"]["num_layers"] == ht["reference"]["num_layers"] == 16  # 14 linears + embed_tokens + lm_head (untied)
    assert f"{ht['policy']['alpha_weighted']:.4f}" in r.output
    # 4 small steps barely move the weights
    assert ht["policy"]["alpha_weighted"] == pytest.approx(ht["reference"]["alpha_weighted"], rel=0.25)

    r = runner.invoke(cli, ["report", str(trained["run"])])
    assert r.exit_code == 0, r.output
    page = (trained["run"] / "report" / "index.html").read_text()
    for section in ('id="curves"', 'id="kernel_weights"', 'id="htsr"', 'id="drift"'):
        assert section in page
    r = runner.invoke(cli, ["report", str(tmp_path / "missing")])
    assert r.exit_code == 2


def test_eval_errors(tmp_path, trained):
    with pytest.raises(ConfigError, match="neither a dpok run directory"):
        evaluate(tmp_path, trained["held"])
    with pytest.raises(ConfigError, match="pass --data"):
        evaluate(trained["run"] / "model", reference=trained["base"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x", "chosen": "a"}\n')
    reset_accelerate()
    with pytest.raises(DataError, match="bad.jsonl"):
        evaluate(trained["run"], bad, write=False)


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.skipif(shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
                    reason="torchrun not available")
def test_eval_two_processes_gathers_each_pair_once(trained, tmp_path):
    """7 pairs over 2 ranks with batch 2: Accelerate pads the last batch; gather_for_metrics drops the copies."""
    torchrun = str(Path(sys.executable).parent / "torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "DPOK_CACHE": str(trained["root"] / "cache")}
    cmd = [torchrun, "--nproc_per_node", "2", "--master_port", "29513", "-m", "dpok_framework.cli", "eval",
           str(trained["run"]), "--data", str(trained["held"]), "--batch-size", "2", "--out", str(tmp_path / "mp")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    mp = json.loads((tmp_path / "mp" / "eval.json").read_text())
    assert mp["num_processes"] == 2 and mp["metrics"]["num_pairs"] == 7
    rows = list(csv.DictReader((tmp_path / "mp" / "pairs.csv").open()))
    assert sorted(int(r["index"]) for r in rows) == list(range(7))
    reset_accelerate()
    single = evaluate(trained["run"], trained["held"], batch_size=2, write=False)
    for k in ("rewards/accuracies", "rewards/margins", "kernel/log_ratio", "win_rate", "davies_bouldin/kernel"):
        assert mp["metrics"][k] == pytest.approx(single.metrics[k], rel=1e-4, abs=1e-6), k


def test_load_kernel_state_fallback_for_unsized_buffers(tmp_path):
    """A third-party kernel whose buffer is None until fit(): the saved tensor is assigned directly."""
    from dpok_framework.components import Kernel

    class Centred(Kernel):
        name = "centred_test"

        def __init__(self, params=None, **kw):
            super().__init__(params, **kw)
            self.register_buffer("centre", None)
            self.scale = torch.nn.Parameter(torch.tensor(1.0))

        def pairwise(self, x, y):
            return torch.exp(-torch.cdist(x - self.centre, y - self.centre) * self.scale)

    saved = tmp_path / "k.pt"
    torch.save({"centre": torch.arange(3.0), "scale": torch.tensor(2.5)}, saved)
    k = Centred()
    load_kernel_state(k, saved)
    assert torch.equal(k.centre, torch.arange(3.0)) and k.scale.detach().item() == 2.5


def test_auto_selection_is_resolved_from_run_dir(tmp_path):
    from dpok_framework.config import dump_config
    from dpok_framework.evaluation.evaluate import _resolve_auto

    cfg = config_from_dict({"kernel": {"name": "auto", "gamma": 0.2}, "divergence": {"link": "auto"}})
    run = tmp_path / "run"
    (run / "selection").mkdir(parents=True)
    (run / "config.yaml").write_text(dump_config(cfg))
    with pytest.raises(ConfigError, match="resolved.json is missing"):
        _resolve_auto(cfg, run)
    (run / "selection" / "resolved.json").write_text(json.dumps({
        "kernel": {"name": "rbf", "params": {"sigma": 0.5}},
        "divergence": {"link": {"name": "kl", "params": {}}, "penalty": None}, "reason": "test"}))
    out = _resolve_auto(cfg, run)
    assert out.kernel.name == "rbf" and out.kernel.params == {"sigma": 0.5} and out.kernel.gamma == 0.2
    assert out.divergence.link.name == "kl"
