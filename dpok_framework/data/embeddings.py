"""Frozen-encoder embeddings of a pair dataset, cached on disk.

``compute_text_embeddings(ds, embedder, cache_dir)`` encodes every distinct prompt / chosen / rejected
text once with ``embedder.encode_texts`` and returns :class:`TextEmbeddings` whose tensors are aligned
with ``ds``'s order (index ``i`` is ``ds[i]``); ``.take(rows)`` looks up a batch by its ``row`` values.

Cache: ``<cache_dir>/text-emb-<sha256(cache_key, fingerprint)[:24]>.pt`` where ``cache_key`` is
``embedder.cache_key()`` (model identity + params) and the fingerprint is a SHA-256 of the dataset's
``row``/``prompt``/``chosen``/``rejected`` values in order (content, not the ``datasets`` fingerprint,
which is random for in-memory datasets).  Files are written atomically (temp file + ``os.replace``);
an unreadable or mismatching file is recomputed and overwritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from ..errors import DataError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def dataset_fingerprint(ds: Any) -> str:
    """SHA-256 over (row, prompt, chosen, rejected) of every example, in order."""
    h = hashlib.sha256()
    rows = list(ds["row"]) if "row" in ds.column_names else list(range(len(ds)))
    for r, p, c, j in zip(rows, ds["prompt"], ds["chosen"], ds["rejected"]):
        h.update(json.dumps([int(r), p, c, j], ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


@dataclass
class TextEmbeddings:
    """``prompt``, ``chosen``, ``rejected``: ``[N, d]`` aligned with the dataset; ``rows``: ``[N]`` its ``row``."""

    prompt: torch.Tensor
    chosen: torch.Tensor
    rejected: torch.Tensor
    rows: torch.Tensor
    cache_key: str
    fingerprint: str
    cache_hit: bool = False
    cache_path: Path | None = None
    _index: dict[int, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def index_of_rows(self, rows: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """Positions ``[B]`` of the given ``row`` values (e.g. a collated batch's ``row``)."""
        if self._index is None:
            index = {int(r): i for i, r in enumerate(self.rows.tolist())}
            if len(index) != len(self):
                raise DataError("TextEmbeddings: the dataset's 'row' values are not unique, so embeddings cannot be "
                                "looked up by row; index them by position instead")
            self._index = index
        try:
            return torch.tensor([self._index[int(r)] for r in rows], dtype=torch.long)
        except KeyError as exc:
            raise DataError(f"TextEmbeddings: row {exc.args[0]} is not in the embedded dataset") from None

    def take(self, rows: torch.Tensor | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(e_prompt, e_chosen, e_rejected), each ``[B, d]``, for a batch's ``row`` values."""
        idx = self.index_of_rows(rows)  # [B]
        return self.prompt[idx], self.chosen[idx], self.rejected[idx]


def _encode_unique(embedder: Any, texts: list[str]) -> tuple[torch.Tensor, list[int]]:
    """Encode each distinct text once -> (``[U, d]`` embeddings, position of every input text in them)."""
    order: dict[str, int] = {}
    for t in texts:
        order.setdefault(t, len(order))
    emb = embedder.encode_texts(list(order))  # [U, d]
    if not isinstance(emb, torch.Tensor) or emb.dim() != 2 or emb.shape[0] != len(order):
        shape = tuple(emb.shape) if isinstance(emb, torch.Tensor) else type(emb).__name__
        raise DataError(f"embedder {getattr(embedder, 'name', '?')!r}: encode_texts returned {shape} for "
                        f"{len(order)} texts; expected a [{len(order)}, d] tensor")
    return emb.detach().to("cpu", torch.float32), [order[t] for t in texts]


def _cache_file(cache_dir: Path, key: str, fingerprint: str) -> Path:
    digest = hashlib.sha256(f"{key}\n{fingerprint}".encode("utf-8")).hexdigest()[:24]
    return cache_dir / f"text-emb-{digest}.pt"


def _read_cache(path: Path, key: str, fingerprint: str, n: int) -> dict | None:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated/corrupt files raise various types
        warnings.warn(f"embedding cache {path} is unreadable ({type(exc).__name__}: {exc}); recomputing",
                      stacklevel=3)
        return None
    ok = (isinstance(blob, dict) and blob.get("version") == FORMAT_VERSION and blob.get("cache_key") == key
          and blob.get("fingerprint") == fingerprint
          and all(isinstance(blob.get(k), torch.Tensor) and blob[k].shape[0] == n
                  for k in ("prompt", "chosen", "rejected")))
    if not ok:
        warnings.warn(f"embedding cache {path} does not match this embedder/dataset; recomputing", stacklevel=3)
        return None
    return blob


def _write_atomic(path: Path, blob: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(blob, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def compute_text_embeddings(ds: Any, embedder: Any, cache_dir: str | os.PathLike | None = None) -> TextEmbeddings:
    """Embed every example's prompt / chosen / rejected with a frozen embedder (cached under ``cache_dir``).

    ``ds`` needs ``prompt``, ``chosen``, ``rejected`` (and ideally ``row``) columns; ``cache_dir`` None
    disables the disk cache.
    """
    if getattr(embedder, "uses_policy_hidden", False):
        raise DataError(f"embedder {embedder.name!r} pools the policy's hidden states during training; "
                        "compute_text_embeddings is for frozen text embedders (e.g. sentence_encoder)")
    missing = [c for c in ("prompt", "chosen", "rejected") if c not in ds.column_names]
    if missing:
        raise DataError(f"compute_text_embeddings needs columns prompt/chosen/rejected; missing {missing}")
    n = len(ds)
    rows = torch.tensor(list(ds["row"]) if "row" in ds.column_names else list(range(n)), dtype=torch.long)
    key = embedder.cache_key()
    fingerprint = dataset_fingerprint(ds)
    path = _cache_file(Path(cache_dir), key, fingerprint) if cache_dir is not None else None

    if path is not None and path.is_file():
        blob = _read_cache(path, key, fingerprint, n)
        if blob is not None:
            logger.info("text embeddings: cache hit %s", path)
            return TextEmbeddings(blob["prompt"], blob["chosen"], blob["rejected"], rows, key, fingerprint,
                                  cache_hit=True, cache_path=path)

    texts = list(ds["prompt"]) + list(ds["chosen"]) + list(ds["rejected"])
    emb, pos = _encode_unique(embedder, texts)  # [U, d], [3N]
    full = emb[torch.tensor(pos, dtype=torch.long)] if pos else emb[:0]  # [3N, d]
    prompt, chosen, rejected = full[:n], full[n:2 * n], full[2 * n:]  # each [N, d]
    if path is not None:
        _write_atomic(path, {"version": FORMAT_VERSION, "cache_key": key, "fingerprint": fingerprint,
                             "prompt": prompt.contiguous(), "chosen": chosen.contiguous(),
                             "rejected": rejected.contiguous()})
        logger.info("text embeddings: wrote %s (%d pairs, d=%d)", path, n, prompt.shape[-1])
    return TextEmbeddings(prompt, chosen, rejected, rows, key, fingerprint, cache_hit=False, cache_path=path)
