"""Generalisation drift: the train - held-out gap of a metric over training, from a run's metrics.jsonl.

For every eval record at step s (previous eval at step s0, or -inf), the train value is the mean of the
train records with s0 < step <= s (the logging window the eval closes); if that window is empty, the last
train record at or before s. Then

    gap(s) = train(s) - eval(s)        (accuracy: positive = the model does better on data it trained on)

A gap that grows over training is the overfitting signal; ``drift_slope`` is its least-squares slope per
1000 steps.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DriftPoint:
    step: int
    epoch: float | None
    train: float
    eval: float
    gap: float

    def to_json(self) -> dict:
        return asdict(self)


def _val(r: dict, key: str) -> float | None:
    v = r.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        return None
    return float(v)


def generalisation_drift(records: list[dict[str, Any]], key: str = "rewards/accuracies") -> list[DriftPoint]:
    """Train-vs-eval gap of ``key`` at each eval step (see module docstring)."""
    train = sorted(((r["step"], v) for r in records if r["split"] == "train" and (v := _val(r, key)) is not None),
                   key=lambda t: t[0])
    evals = sorted(((r["step"], r.get("epoch"), v) for r in records
                    if r["split"] == "eval" and (v := _val(r, key)) is not None), key=lambda t: t[0])
    out: list[DriftPoint] = []
    prev = -math.inf
    for step, epoch, ev in evals:
        window = [v for s, v in train if prev < s <= step]
        if not window:
            before = [v for s, v in train if s <= step]
            window = before[-1:]
        prev = step
        if not window:
            continue
        tr = float(np.mean(window))
        out.append(DriftPoint(step=int(step), epoch=None if epoch is None else float(epoch), train=tr, eval=ev,
                              gap=tr - ev))
    return out


def drift_summary(points: list[DriftPoint]) -> dict[str, float | None]:
    """Final and maximum gap, and the gap's slope per 1000 steps (None with fewer than 2 points)."""
    if not points:
        return {"final_gap": None, "max_gap": None, "drift_slope": None}
    gaps = np.array([p.gap for p in points])
    slope = None
    steps = np.array([p.step for p in points], dtype=float)
    if len(points) >= 2 and np.ptp(steps) > 0:
        slope = float(np.polyfit(steps, gaps, 1)[0] * 1000.0)
    return {"final_gap": float(gaps[-1]), "max_gap": float(gaps.max()), "drift_slope": slope}
