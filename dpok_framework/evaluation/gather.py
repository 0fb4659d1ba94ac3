"""Collect per-pair tensors across processes exactly once (Accelerate ``gather_for_metrics``).

Under several processes each rank sees a shard of the held-out set, and the last batch is padded with
repeated samples so every rank has the same number of batches. ``gather_for_metrics`` drops those
duplicates, so after :meth:`PairGatherer.result` every rank holds each pair exactly once, in dataset order
for a non-shuffled loader. In a single process it is a plain concatenation.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch


class PairGatherer:
    """Accumulates ``{name: [B, ...] tensor}`` batches; ``result()`` -> ``{name: [N, ...]}`` on CPU."""

    def __init__(self, accelerator: Any | None = None) -> None:
        self.accelerator = accelerator
        self._parts: dict[str, list[torch.Tensor]] = {}
        self._sizes: list[int] = []

    def add(self, batch: Mapping[str, torch.Tensor]) -> None:
        sizes = {k: int(v.shape[0]) for k, v in batch.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"PairGatherer.add: tensors of one batch must share their first dimension, got {sizes}")
        batch = {k: v.detach().contiguous() for k, v in batch.items()}
        if self.accelerator is not None:
            batch = self.accelerator.gather_for_metrics(dict(batch))
        for k, v in batch.items():
            self._parts.setdefault(k, []).append(v.cpu())
        self._sizes.append(int(next(iter(batch.values())).shape[0]))

    def result(self) -> dict[str, torch.Tensor]:
        return {k: torch.cat(v, 0) for k, v in self._parts.items()}

    def __len__(self) -> int:
        return sum(self._sizes)
