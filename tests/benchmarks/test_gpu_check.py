"""benchmarks/gpu_check.py on a machine without CUDA: one JSON line saying so, exit 0, nothing run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


def test_without_cuda_says_so_and_runs_nothing(tmp_path):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", HF_HUB_OFFLINE="1")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert lines == [{"check": "cuda", "ok": None, "available": False, "message": "no CUDA device: nothing run"}]
    assert not out.exists()  # no run directory, no result file
