"""Training metrics: accumulated on device between logging steps, reduced across processes only when
logged, written as JSONL (``metrics.jsonl``, a ``split`` field per row) and to any Accelerate tracker
(``training.report_to``) under ``train/<name>`` and ``eval/<name>``, as TRL runs log them.

Names follow TRL's DPOTrainer (``loss``, ``rewards/chosen``, ``rewards/accuracies``, ...) so dashboards
carry over; dpok adds ``kernel/log_ratio``, ``kernel/weights/<name>``, ``divergence/<name>`` and
``objective/margin`` (the full DPO-Kernels margin m).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch


class MetricAccumulator:
    """Sums and counts per metric, kept as device tensors (no host sync until :meth:`reduce`)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, torch.Tensor] = {}

    def add(self, name: str, value: torch.Tensor) -> None:
        """``value``: a ``[B]`` per-pair tensor (averaged over pairs) or a scalar (averaged over calls)."""
        value = value.detach().float()
        s, c = value.sum(), torch.tensor(float(value.numel()), device=value.device)
        if name in self.sums:
            self.sums[name] = self.sums[name] + s
            self.counts[name] = self.counts[name] + c
        else:
            self.sums[name], self.counts[name] = s, c

    def add_all(self, metrics: dict[str, torch.Tensor]) -> None:
        for k, v in metrics.items():
            self.add(k, v)

    def merge(self, other: "MetricAccumulator") -> None:
        for k in other.sums:
            if k in self.sums:
                self.sums[k] = self.sums[k] + other.sums[k]
                self.counts[k] = self.counts[k] + other.counts[k]
            else:
                self.sums[k], self.counts[k] = other.sums[k], other.counts[k]

    def __bool__(self) -> bool:
        return bool(self.sums)

    def reduce(self, accelerator) -> dict[str, float]:
        """Means over everything added since the last reset, summed across processes; then resets."""
        if not self.sums:
            return {}
        names = sorted(self.sums)
        stacked = torch.stack([torch.stack([self.sums[n], self.counts[n]]) for n in names])  # [M, 2]
        if accelerator is not None and accelerator.num_processes > 1:
            stacked = accelerator.reduce(stacked, reduction="sum")
        values = stacked.cpu().tolist()
        self.sums.clear()
        self.counts.clear()
        return {n: (s / c if c else float("nan")) for n, (s, c) in zip(names, values)}


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else (1e308 if v > 0 else -1e308)
    return v


class MetricsWriter:
    """Appends ``{"step", "epoch", "split", <metric>: float}`` lines to ``metrics.jsonl`` (main process)."""

    def __init__(self, path: Path, accelerator=None, enabled: bool = True) -> None:
        self.path = Path(path)
        self.accelerator = accelerator
        self.enabled = enabled

    def truncate_after(self, step: int) -> None:
        """On resume: drop records a killed run wrote after the checkpoint it resumes from."""
        if not self.enabled or not self.path.is_file():
            return
        keep = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in keep))

    def write(self, step: int, epoch: float, split: str, metrics: dict[str, float]) -> None:
        record = {"step": int(step), "epoch": round(float(epoch), 6), "split": split}
        record.update({k: _clean(float(v)) for k, v in metrics.items()})
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
        if self.accelerator is not None and self.accelerator.trackers:
            self.accelerator.log({f"{split}/{k}": v for k, v in metrics.items()}, step=step)  # train/, eval/ as TRL


def read_metrics(path: Path | str) -> list[dict[str, Any]]:
    """Parse a run's ``metrics.jsonl``."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
