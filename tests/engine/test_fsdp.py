"""FSDP2 with two gloo processes on CPU (torchrun): dpok's objective on sharded parameters trains like the
unsharded model, and the chunked log-probs fall back to the model's own forward on the sharded head.
(Accelerate 1.15 itself does not select FSDP for CPU processes; docs/distributed.md, benchmarks/gpu_check.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("fsdp_worker.py")


@pytest.mark.multiprocess
def test_fsdp2_two_processes_match_unsharded(tmp_path):
    """DPO plus the explicit KL penalty (full per-token distributions of policy and reference), 3 AdamW steps."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun, "torchrun not found next to the interpreter"
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    out = tmp_path / "out"
    cmd = [torchrun, "--nproc_per_node", "2", "--master_port", "29531", str(WORKER), str(out), "penalty"]
    proc = subprocess.run(cmd, env=env, timeout=240, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = json.loads((out / "fsdp.json").read_text())
    assert r["world_size"] == 2 and r["head_is_dtensor"]
    assert r["fast_path_refused"] and r["fast_path_on_plain"]  # sharded head: the model's own forward
    assert r["logps_max_abs_diff"] <= 1e-4  # summed over ~15 completion tokens, after training
    assert len(r["sharded_losses"]) == 3
    assert r["sharded_losses"] == pytest.approx(r["plain_losses"], abs=1e-5)
    assert r["sharded_losses"][-1] < r["sharded_losses"][0] - 0.05  # it trained
