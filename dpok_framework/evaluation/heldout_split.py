"""The held-out split of a run, recorded in its run directory (``heldout_split.json``).

When ``data.eval`` is unset, the engine holds out ``data.eval_fraction`` of the training pairs. The rows it
held out (their 0-based row in the source file) are written here at training time, with a SHA-256 of their
text, so ``dpok eval RUN`` evaluates exactly those pairs later: read back from the source by row, checked
against the hash (a changed file is an error, never a silently different split), not re-drawn.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import DataError

SPLIT_FILE = "heldout_split.json"
BUNDLED = "bundled"


def _digest(ds) -> str:
    h = hashlib.sha256()
    for p, c, r in zip(ds["prompt"], ds["chosen"], ds["rejected"]):
        for text in (p, c, r):
            b = text.encode("utf-8")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    return h.hexdigest()


def record_heldout_split(run_dir: str | Path, data_config: Any, eval_ds, is_main: bool = True,
                         in_memory: bool = False) -> Path | None:
    """Write ``RUN/heldout_split.json`` when the held-out pairs were cut from ``data.train`` (no-op when
    ``data.eval`` is a file, there is no held-out split, the pairs came from an in-memory dataset, or on a
    non-main process)."""
    if not is_main or in_memory or eval_ds is None or len(eval_ds) == 0 or data_config.eval is not None:
        return None
    record = {"source": str(Path(data_config.train).resolve()) if data_config.train else BUNDLED, "format": data_config.format,
              "eval_fraction": data_config.eval_fraction, "seed": data_config.seed,
              "max_samples": data_config.max_samples, "rows": [int(r) for r in eval_ds["row"]],
              "sha256": _digest(eval_ds)}
    path = Path(run_dir) / SPLIT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SPLIT_FILE}.tmp")
    tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def has_recorded_split(run_dir: str | Path) -> bool:
    return (Path(run_dir) / SPLIT_FILE).is_file()


def load_recorded_split(run_dir: str | Path, data_config: Any, tokenizer=None, max_samples: int | None = None):
    """The raw held-out pairs (``datasets.Dataset``: prompt, chosen, rejected, row) recorded for ``run_dir``."""
    from ..data import load_pairs_from
    from ..data.bundled import bundled_dataset_path

    path = Path(run_dir) / SPLIT_FILE
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        rows, source, digest = rec["rows"], rec["source"], rec["sha256"]
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise DataError(f"{path}: not a readable held-out split record ({exc})") from None
    if source == BUNDLED:
        src, fmt = bundled_dataset_path(), "implicit"
    else:
        src, fmt = Path(source), rec.get("format", data_config.format)
        if not src.is_file():
            raise DataError(f"{path}: the run's training file {src} is gone; pass --data HELD_OUT")
    loaded = load_pairs_from(str(src), format=fmt, on_invalid=data_config.on_invalid, tokenizer=tokenizer,
                             max_samples=rec.get("max_samples")).train
    where = {int(r): i for i, r in enumerate(loaded["row"])}
    missing = [r for r in rows if r not in where]
    if missing:
        raise DataError(f"{path}: rows {missing[:5]} of the held-out split are no longer in {src}")
    ds = loaded.select([where[r] for r in rows])
    if _digest(ds) != digest:
        raise DataError(f"{path}: the held-out rows of {src} changed since training (hash mismatch); "
                        "pass --data HELD_OUT")
    if max_samples is not None:
        ds = ds.select(range(min(max_samples, len(ds))))
    return ds
