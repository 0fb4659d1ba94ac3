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

import codecs
import gzip
import json
import os
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import DataError
from .validation import LineError, RowError

JSON_SUFFIXES = (".json", ".json.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
SUPPORTED = JSON_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES


class UnreadableRecord:
    """A row that could not be parsed (malformed JSON line): yielded in place of the record so the loader
    reports it like any other invalid row (an error naming file, row, line and column, or a skip that
    is counted under ``on_invalid: skip``)."""

    def __init__(self, error: RowError) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"UnreadableRecord({self.error})"


def _decode(raw: bytes) -> str:
    """Bytes -> str; bytes that are not UTF-8 become lone surrogates (``surrogateescape``), which record
    validation then reports naming the field that holds them (see ``validation.check_unicode``)."""
    return raw.decode("utf-8", errors="surrogateescape")


class _ReadErrors:
    """Turns a corrupt compressed stream into a DataError naming the file and how far reading got."""

    def __init__(self, path: Path, where: Callable[[], str]) -> None:
        self.path, self.where = path, where

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            return False
        if issubclass(exc_type, EOFError):  # gzip: stream ends before its end-of-stream marker
            raise DataError(f"{self.path}: the gzip stream is truncated ({self.where()}): the file is incomplete; "
                            "copy or compress it again") from None
        if issubclass(exc_type, (gzip.BadGzipFile, zlib.error)):
            raise DataError(f"{self.path}: not a valid gzip file ({exc}; {self.where()}); decompress it or "
                            "drop the .gz suffix if it is plain text") from None
        return False


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


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
    """Lines are split on ``\n`` only (a stray ``\r`` inside a line does not split it); a UTF-8 BOM at the
    start is ignored; columns in messages count characters of the line, from 1."""
    row, lineno = 0, 0
    with _open_binary(path) as fh, _ReadErrors(path, lambda: f"after line {lineno}"):
        for lineno, raw in enumerate(fh, start=1):
            line = _decode(raw[3:] if lineno == 1 and raw.startswith(codecs.BOM_UTF8) else raw)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                record = UnreadableRecord(LineError(lineno, f"invalid JSON: {exc.msg} at column {exc.colno}"))
            yield row, record
            row += 1


def _iter_json(path: Path) -> Iterator[tuple[int, Any]]:
    with _open_binary(path) as fh, _ReadErrors(path, lambda: "while reading"):
        raw = fh.read()
    text = _decode(raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw)
    try:
        data = json.loads(text)
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
