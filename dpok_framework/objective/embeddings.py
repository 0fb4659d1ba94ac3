"""Frozen-encoder embeddings for the kernel term (``sentence_encoder``-style embedders).

The embedder runs once per dataset (cached on disk by the data pipeline's ``compute_text_embeddings``);
during training each batch looks its pairs up by ``row``.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch


class TextEmbeddingTable:
    """row -> (e_x, e_y+, e_y-). Built from aligned ``rows [N]``, ``prompt/chosen/rejected [N, d]``."""

    def __init__(self, rows: torch.Tensor, prompt: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor
                 ) -> None:
        rows = torch.as_tensor(rows).long()
        self.values = torch.stack([torch.as_tensor(prompt), torch.as_tensor(chosen),
                                   torch.as_tensor(rejected)]).float()  # [3, N, d]
        index = torch.full((int(rows.max()) + 1,) if rows.numel() else (0,), -1, dtype=torch.long)
        index[rows] = torch.arange(rows.numel())
        self.index = index
        self._on: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def from_output(cls, out: Any, ds=None) -> "TextEmbeddingTable":
        """Accept the data pipeline's result: an object or mapping with ``prompt``, ``chosen``,
        ``rejected`` ``[N, d]`` and optionally ``row``/``rows`` (default: ``ds['row']``)."""
        get = (lambda k: out.get(k)) if isinstance(out, Mapping) else (lambda k: getattr(out, k, None))
        rows = get("rows")
        if rows is None:
            rows = get("row")
        if rows is None:
            if ds is None:
                raise ValueError("text embeddings carry no row ids and no dataset was given to align them")
            rows = ds["row"]
        return cls(torch.as_tensor(rows), get("prompt"), get("chosen"), get("rejected"))

    def lookup(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dev = rows.device
        if dev not in self._on:
            self._on[dev] = (self.index.to(dev), self.values.to(dev))
        index, values = self._on[dev]
        pos = index[rows.long()]  # [B]
        if bool((pos < 0).any()):
            raise KeyError(f"rows {rows[pos < 0].tolist()} have no cached text embedding")
        v = values[:, pos]  # [3, B, d]
        return v[0], v[1], v[2]
