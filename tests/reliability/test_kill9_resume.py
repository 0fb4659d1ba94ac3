"""A real ``kill -9`` of ``dpok train`` at random moments, then ``--resume`` with an allowed config change:
the final weights are bit-identical to an uninterrupted run, and the killed run's lock never blocks the
resume. Slow (each attempt starts Python processes): ``scripts/test.sh --slow -k kill9``."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml
from safetensors.torch import load_file

from engine.tiny import run_config

ATTEMPTS = 3


def _env(tmp_path):
    env = dict(os.environ, DPOK_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def _write(cfg, path):
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    return path


def _dpok(*args):
    return [sys.executable, "-c", "from dpok_framework.cli.main import main; main()", "train", *args, "-q"]


@pytest.mark.slow
def test_case3_kill9_at_random_moments_then_resume_with_an_allowed_change_is_bit_identical(
        tmp_path, tiny_model_dir, pairs_file):
    sections = dict(kernel={"name": "rbf", "params": {"learnable": True}, "gamma": 0.5},
                    training={"max_steps": 24, "save_steps": 2, "gradient_accumulation_steps": 2, "batch_size": 3,
                              "lr_scheduler": "linear", "warmup_steps": 2, "logging_steps": 1})
    env = _env(tmp_path)
    ref = run_config(tmp_path / "ref", tiny_model_dir, pairs_file, **sections)
    subprocess.run(_dpok(str(_write(ref, tmp_path / "ref.yaml"))), check=True, env=env, timeout=300)
    expected = load_file(str(tmp_path / "ref" / "run" / "model" / "model.safetensors"))
    rng = random.Random(13)
    for attempt in range(ATTEMPTS):
        base = tmp_path / f"k{attempt}"
        cfg = run_config(base, tiny_model_dir, pairs_file, **sections)
        proc = subprocess.Popen(_dpok(str(_write(cfg, base.with_suffix(".yaml")))), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ckpts = base / "run" / "checkpoints"
        deadline = time.monotonic() + 240
        while not (ckpts.is_dir() and any(p.name.startswith("step-") for p in ckpts.iterdir())):
            assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint before the run ended"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.6))  # somewhere in the following steps (or mid-save)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (base / "run" / "summary.json").exists(), "killed after the run had finished"
        allowed = dict(sections, training={**sections["training"], "logging_steps": 3, "save_total_limit": 4})
        resumed_cfg = run_config(base, tiny_model_dir, pairs_file, **allowed)
        subprocess.run(_dpok(str(_write(resumed_cfg, base.with_suffix(".resume.yaml"))), "--resume"), check=True,
                       env=env, timeout=300)
        got = load_file(str(base / "run" / "model" / "model.safetensors"))
        assert expected.keys() == got.keys()
        assert all(torch.equal(expected[k], got[k]) for k in expected), f"attempt {attempt}"
