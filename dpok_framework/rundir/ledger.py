"""The privacy ledger: ``privacy_ledger.jsonl``, one line per differentially private release, append-only.

``privacy.json`` describes the current run's releases and is replaced with the run; the ledger is never
cleared by ``output.overwrite`` (see :mod:`.layout`), so a directory keeps the record of every release
made from it. Each line names the data it was computed on (a fingerprint of the training pairs) and its
``(epsilon, delta)``; :meth:`PrivacyLedger.spent_on` sums them per data set. Under basic composition the
sum bounds the total privacy loss of everything released about that data from this directory; the engine
logs it after each release and puts it in ``summary.json``, and warns when it exceeds the run's budget.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from .files import disk_errors, strict_json
from .layout import LEDGER_FILE


class PrivacyLedger:
    def __init__(self, run_dir: Path | str) -> None:
        self.path = Path(run_dir) / LEDGER_FILE

    def append(self, data_fingerprint: str, epsilon: float, delta: float, wrapper: str, **extra: Any) -> dict:
        """Record one release (flushed and fsynced before returning: a later crash cannot lose it)."""
        entry = {"time": time.time(), "data": data_fingerprint, "epsilon": float(epsilon), "delta": float(delta),
                 "wrapper": wrapper, **extra}
        with disk_errors(self.path, "the privacy ledger"):
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(strict_json(entry, indent=None) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        return entry

    def entries(self) -> list[dict]:
        """Every complete line (a line torn by a crash mid-write is ignored)."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    def spent_on(self, data_fingerprint: str) -> tuple[float, float]:
        """(sum of epsilon, sum of delta) over every release recorded for ``data_fingerprint``."""
        mine = [e for e in self.entries() if e.get("data") == data_fingerprint]
        return (sum(float(e.get("epsilon") or 0.0) for e in mine), sum(float(e.get("delta") or 0.0) for e in mine))


def fingerprint_pairs(ds: Any) -> str:
    """sha256 of a split's prompt/chosen/rejected texts: the same pairs give the same key whatever the model,
    tokenizer or truncation (the privacy unit is the record, not its tokens)."""
    h = hashlib.sha256()
    for col in ("prompt", "chosen", "rejected"):
        for text in ds[col]:
            h.update(text.encode("utf-8", "surrogatepass"))
            h.update(b"\0")
    return "sha256:" + h.hexdigest()
