"""Train from Python with overrides, then read the run directory.

    HF_HUB_OFFLINE=1 python examples/train_from_python.py
"""

from __future__ import annotations

import json
from pathlib import Path

from dpok_framework.config import load_config
from dpok_framework.engine import Engine, read_metrics

DEFAULT = Path(__file__).resolve().parents[1] / "dpok_framework" / "defaults" / "default.yaml"

config = load_config(DEFAULT, ["kernel.name=polynomial", "kernel.gamma=0.3", "training.max_steps=10",
                               "training.max_time_s=120", "output.dir=runs/python-api"])
result = Engine(config).train()
print(json.dumps(result.summary["policy"], indent=2))
for record in read_metrics(result.run_dir / "metrics.jsonl")[-3:]:
    print(record["step"], record["split"], record.get("loss"), record.get("rewards/accuracies"))
