"""Reading a run directory written by the engine: metrics.jsonl, summary.json, config, eval outputs.

Layout (engine contract): ``config.yaml``, ``metrics.jsonl`` (one JSON object per line with ``step``,
``epoch``, ``split`` in {train, eval} and float metrics), ``model/``, ``kernel.pt``, ``summary.json``,
``selection/{selection.json, heatmap.png}``, ``privacy.json``. Evaluation adds ``eval/eval.json``,
``eval/pairs.csv`` (``dpok eval``) and ``eval/htsr.json`` (``dpok analyze``); ``dpok report`` writes
``report/``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..rundir.files import write_json as strict_write

EVAL_DIR = "eval"
EVAL_JSON = "eval.json"
PAIRS_CSV = "pairs.csv"
HTSR_JSON = "htsr.json"


def is_run_dir(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and ((p / "metrics.jsonl").is_file() or (p / "config.yaml").is_file())


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Records of ``metrics.jsonl`` (a file or a run directory), validated; blank lines are skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise DataError(f"metrics file not found: {path} (is this a dpok run directory?)")
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                # a crashed run can leave a truncated last line: tolerate only that one
                if not fh.readline():
                    break
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(rec).__name__}")
            if not isinstance(rec.get("step"), int):
                raise DataError(f"{path}:{lineno}: field 'step' must be an integer, got {rec.get('step')!r}")
            split = rec.get("split", "train")
            if split not in ("train", "eval"):
                raise DataError(f"{path}:{lineno}: field 'split' must be 'train' or 'eval', got {split!r}")
            rec["split"] = split
            records.append(rec)
    return records


def series(records: list[dict[str, Any]], key: str, split: str = "train") -> tuple[list[int], list[float]]:
    """(steps, values) of one metric on one split, in file order, skipping records without it / non-finite."""
    steps, vals = [], []
    for r in records:
        if r["split"] != split or key not in r:
            continue
        v = r[key]
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v)):
            steps.append(r["step"])
            vals.append(float(v))
    return steps, vals


def metric_keys(records: list[dict[str, Any]], split: str | None = None) -> list[str]:
    """Metric names present (excluding step/epoch/split), in first-seen order."""
    seen: dict[str, None] = {}
    for r in records:
        if split is not None and r["split"] != split:
            continue
        for k, v in r.items():
            if k not in ("step", "epoch", "split") and isinstance(v, (int, float)) and not isinstance(v, bool):
                seen.setdefault(k, None)
    return list(seen)


def last_values(records: list[dict[str, Any]], split: str) -> dict[str, tuple[int, float]]:
    """metric -> (step, value) of its last finite occurrence on ``split``."""
    out: dict[str, tuple[int, float]] = {}
    for r in records:
        if r["split"] != split:
            continue
        for k, v in r.items():
            if k in ("step", "epoch", "split") or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if math.isfinite(float(v)):
                out[k] = (r["step"], float(v))
    return out


def read_json(path: str | Path) -> Any | None:
    """Parsed JSON of ``path``, or None if the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def write_json(path: str | Path, data: Any) -> Path:
    """Strict JSON (NaN / inf written as null), written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    strict_write(path, data)
    return path
