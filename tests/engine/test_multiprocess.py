"""Two gloo processes (torchrun) with the same global batch give the same result as one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dpok_framework.engine import read_metrics

WORKER = Path(__file__).with_name("ddp_worker.py")


def _env(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1",
               DPOK_CACHE=str(tmp_path / "cache"))
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "ACCELERATE_USE_CPU"):
        env.pop(k, None)
    return env


@pytest.mark.multiprocess
def test_torchrun_two_processes_match_one_process(tmp_path, tiny_model_dir, pairs_file):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun, "torchrun not found next to the interpreter"
    env = _env(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, str(WORKER), str(tmp_path), str(tiny_model_dir), str(pairs_file), "4", str(one)],
                   check=True, env=env, timeout=240)
    proc = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", "29517", str(WORKER), str(tmp_path),
                           str(tiny_model_dir), str(pairs_file), "2", str(two)],
                          env=env, timeout=240, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    s2 = json.loads((two / "summary.json").read_text())
    assert s2["num_processes"] == 2
    a, b = load_file(str(one / "model" / "model.safetensors")), load_file(str(two / "model" / "model.safetensors"))
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    assert diff <= 1e-5
    ka, kb = torch.load(one / "kernel.pt"), torch.load(two / "kernel.pt")
    assert abs(ka["log_sigma"].item() - kb["log_sigma"].item()) <= 1e-6
    la = [r["loss"] for r in read_metrics(one / "metrics.jsonl") if r["split"] == "train"]
    lb = [r["loss"] for r in read_metrics(two / "metrics.jsonl") if r["split"] == "train"]
    assert la == pytest.approx(lb, abs=1e-5)
    s1 = json.loads((one / "summary.json").read_text())
    assert s1["n_pairs"] == s2["n_pairs"] == 6
    assert s1["policy"]["accuracy"] == pytest.approx(s2["policy"]["accuracy"])
