"""Reference log-probabilities computed once and cached on disk (``training.precompute_ref_log_probs``).

Cache key = hash(tokenised data) + hash(reference weights) + dtype/precision, so a changed dataset,
tokenisation or reference model misses; the file lives in ``$DPOK_CACHE/ref_logps/`` and is reused by
later runs. The table maps each pair's ``row`` to (log pi_ref(y+|x), log pi_ref(y-|x)).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable

import torch

from ..objective.logps import forward_logps

logger = logging.getLogger(__name__)

TOKEN_COLUMNS = ("row", "prompt_input_ids", "chosen_input_ids", "rejected_input_ids")


def data_fingerprint(ds) -> str:
    """sha256 over the tokenised columns (row ids and token ids) of a dataset."""
    h = hashlib.sha256()
    for col in TOKEN_COLUMNS:
        if col not in ds.column_names:
            continue
        h.update(col.encode())
        h.update(json.dumps(list(ds[col]), separators=(",", ":")).encode())  # datasets>=4: a Column
    return h.hexdigest()


def weights_fingerprint(model: torch.nn.Module) -> str:
    """blake2b over every parameter and buffer (names, dtypes, shapes, bytes)."""
    h = hashlib.blake2b(digest_size=32)
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class RefLogpTable:
    """row id -> reference (chosen, rejected) summed log-probs; :meth:`lookup` gives ``[2B]``."""

    def __init__(self, rows: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor) -> None:
        self.rows, self.chosen, self.rejected = rows.long(), chosen.double(), rejected.double()
        index = torch.full((int(self.rows.max()) + 1,) if self.rows.numel() else (0,), -1, dtype=torch.long)
        index[self.rows] = torch.arange(self.rows.numel())
        self.index = index
        self._device_cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def to_dict(self) -> dict[str, torch.Tensor]:
        return {"rows": self.rows, "chosen": self.chosen, "rejected": self.rejected}

    def lookup(self, rows: torch.Tensor) -> torch.Tensor:
        """rows ``[B]`` -> ``[2B]`` (chosen for all pairs, then rejected), float32 on rows' device."""
        dev = rows.device
        if dev not in self._device_cache:
            values = torch.stack([self.chosen, self.rejected]).float().to(dev)  # [2, N]
            self._device_cache[dev] = (self.index.to(dev), values)
        index, values = self._device_cache[dev]
        pos = index[rows.long()]  # [B]
        return torch.cat([values[0, pos], values[1, pos]])  # [2B]


def compute_ref_table(model, batches: Iterable[dict], device, autocast=None) -> RefLogpTable:
    """Run the reference over collated batches (no grad) and collect per-row log-probs."""
    rows, chosen, rejected = [], [], []
    model.eval()
    with torch.inference_mode():
        for batch in batches:
            batch = {k: v.to(device) for k, v in batch.items()}
            if autocast is not None:
                with autocast():
                    out = forward_logps(model, batch, need_logits=False)
            else:
                out = forward_logps(model, batch, need_logits=False)
            B = out.logps.shape[0] // 2
            rows.append(batch["row"].cpu())
            chosen.append(out.logps[:B].double().cpu())
            rejected.append(out.logps[B:].double().cpu())
    return RefLogpTable(torch.cat(rows), torch.cat(chosen), torch.cat(rejected))


def cache_path(cache_dir: Path, data_fp: str, weights_fp: str, precision: str) -> Path:
    key = hashlib.sha256(f"{data_fp}:{weights_fp}:{precision}".encode()).hexdigest()[:32]
    return Path(cache_dir) / "ref_logps" / f"{key}.pt"


def load_table(path: Path) -> RefLogpTable | None:
    if not path.is_file():
        return None
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
        return RefLogpTable(d["rows"], d["chosen"], d["rejected"])
    except Exception as exc:  # noqa: BLE001 - a corrupt cache is recomputed, never fatal
        logger.warning("ignoring unreadable reference log-prob cache %s (%s); recomputing", path, exc)
        return None


def save_table(table: RefLogpTable, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(table.to_dict(), tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
