"""Run by test_multiprocess.py, once plainly and once under `torchrun --nproc_per_node 2`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dpok_framework.engine import Engine  # noqa: E402
from tests.engine.tiny import run_config  # noqa: E402

tmp, model_dir, data, batch_size, out = sys.argv[1:6]
cfg = run_config(Path(tmp), Path(model_dir), Path(data),
                 kernel={"name": "rbf", "params": {"learnable": True}, "gamma": 0.5},
                 training={"batch_size": int(batch_size), "max_steps": 3, "logging_steps": 1},
                 output={"dir": out})
Engine(cfg).train()
