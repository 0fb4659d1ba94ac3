"""Where preference records come from: local files, ``save_to_disk`` directories, ``datasets`` objects, lists.

:func:`open_source` turns any of them into ``(label, iterator of (row, record))``; ``row`` is the record's
0-based position in its source (file, directory split, dataset or list) and ``label`` names the source in
messages (``train.jsonl``, ``hh_dir['train']``, ``train_dataset``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import datasets

from ..errors import DataError
from .io import iter_records

ACCEPTED = ("a JSON/JSONL(.gz)/Parquet file, a datasets save_to_disk directory, a datasets.Dataset, "
            "a DatasetDict or a list of dicts")


def _load_saved(path: Path) -> datasets.Dataset | datasets.DatasetDict:
    try:
        return datasets.load_from_disk(str(path))
    except FileNotFoundError as exc:  # a directory that save_to_disk did not write
        raise DataError(f"{path}: a data directory must be written by datasets' save_to_disk ({exc})") from None


def pick_split(ds: datasets.DatasetDict, split: str | None, label: str, option: str) -> str:
    """The split to read: ``split``, or with None the only one. Errors list the available splits."""
    names = sorted(ds)
    if split is None:
        if len(names) == 1:
            return names[0]
        raise DataError(f"{label}: a DatasetDict with splits {names}; choose one with {option} "
                        "(or pass the split itself)")
    if split not in ds:
        raise DataError(f"{label}: no split {split!r} ({option}); available: {names}")
    return split


def open_source(source: Any, split: str | None = None, name: str | None = None,
                split_option: str = "split") -> tuple[str, Iterator[tuple[int, Any]]]:
    """(label, iterator of (row, record)) for any supported source.

    ``split`` picks the split of a DatasetDict (or of a directory holding one); ``split_option`` is the
    setting named in the error when it is missing or ambiguous (``data.train_split``).
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_dir():
            return name or path.name, iter_records(path)
        source, name = _load_saved(path), name or path.name
    if isinstance(source, datasets.DatasetDict):
        label = name or "<dataset>"
        key = pick_split(source, split, label, split_option)
        return f"{label}[{key!r}]", enumerate(source[key])
    if isinstance(source, datasets.Dataset):
        return name or "<dataset>", enumerate(source)
    if isinstance(source, (list, tuple)):
        return name or "<list>", enumerate(source)
    raise DataError(f"{name + ': ' if name else ''}cannot load preference pairs from {type(source).__name__}; "
                    f"pass {ACCEPTED}")
