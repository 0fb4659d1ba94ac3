"""Reading preference records from local files: JSON, JSONL, JSONL.gz and Parquet.

Every reader yields ``(row, record)`` pairs where ``row`` is the 0-based index of the record in the
file (for JSONL: the index among non-blank lines) and ``record`` a plain ``dict``.  Records are read
lazily so ``max_samples`` can stop early on large files.

Decision: JSON and JSONL are parsed with the standard ``json`` module rather than ``datasets``' JSON
builder, because Arrow infers one schema for the whole file and fails on the first row whose types
differ, with an error that names neither the row nor the field; we want ``train.jsonl row 17: field
'chosen' must be a string, got int``.  Parquet files carry a schema already and are read through
``datasets.Dataset.from_parquet`` (local only, no network).
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, Iterator

from ..errors import DataError

JSON_SUFFIXES = (".json", ".json.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
SUPPORTED = JSON_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES


def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def file_kind(path: Path) -> str:
    """``json`` | ``jsonl`` | ``parquet`` from the file name; DataError for anything else."""
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(JSON_SUFFIXES):
        return "json"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise DataError(f"{path}: unsupported file type; expected one of {', '.join(SUPPORTED)}")


def _iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    row = 0
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path.name} row {row} (line {lineno}): invalid JSON: {exc.msg} "
                                f"at column {exc.colno}") from None
            yield row, record
            row += 1


def _iter_json(path: Path) -> Iterator[tuple[int, Any]]:
    with _open_text(path) as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path.name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} "
                            "(a file with one JSON object per line must be named .jsonl)") from None
    if isinstance(data, dict):
        # {"data": [...]} / {"train": [...]}: a single list-valued key holding the records
        lists = [k for k, v in data.items() if isinstance(v, list)]
        if len(lists) != 1:
            raise DataError(f"{path.name}: expected a JSON list of records (or an object with exactly one "
                            f"list-valued key), got an object with keys {sorted(data)}")
        data = data[lists[0]]
    if not isinstance(data, list):
        raise DataError(f"{path.name}: expected a JSON list of records, got {type(data).__name__}")
    yield from enumerate(data)


def _iter_parquet(path: Path) -> Iterator[tuple[int, Any]]:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import datasets

    try:
        ds = datasets.Dataset.from_parquet(str(path), keep_in_memory=True)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise DataError(f"{path.name}: cannot read Parquet file: {exc}") from exc
    yield from enumerate(ds)


def iter_records(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """Yield ``(row, record)`` from a local JSON / JSONL(.gz) / Parquet file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path} (data.train / data.eval must be local files; "
                        "hub datasets are not downloaded)")
    kind = file_kind(path)
    return {"json": _iter_json, "jsonl": _iter_jsonl, "parquet": _iter_parquet}[kind](path)
