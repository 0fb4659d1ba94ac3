"""``data.columns``: read other column names as ``prompt`` / ``chosen`` / ``rejected``.

The mapping is ``{target: source column}``, e.g. ``{"prompt": "question", "chosen": "good"}``.  It is applied
to each record before format detection and conversion, so every format and every validation sees the
usual names; error messages name the source column (``field 'good' (data.columns.chosen) is empty``).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import DataError
from .validation import RowError


def rename_columns(record: Any, columns: Mapping[str, str]) -> Any:
    """``record`` with each mapped source column renamed to its target.

    A record's own column named like a mapped target is dropped (the mapping says where that field
    lives); a missing source column leaves the target missing, for validation to report.
    """
    if not columns or not isinstance(record, Mapping):
        return record
    sources = set(columns.values())
    out = {k: v for k, v in record.items() if k not in columns and k not in sources}
    for target, source in columns.items():
        if source in record:
            out[target] = record[source]
    return out


def check_columns_present(record: Any, columns: Mapping[str, str], source: str) -> None:
    """Fail early, naming the column, when the first record lacks a mapped source column."""
    if not columns or not isinstance(record, Mapping):
        return
    missing = [f"{s!r} (data.columns.{t})" for t, s in columns.items() if s not in record]
    if missing:
        raise DataError(f"{source}: column {', '.join(missing)} not found; the records have columns "
                        f"{sorted(record)}")


def describe_row_error(exc: RowError, columns: Mapping[str, str]) -> str:
    """The row error's text, naming the source column when the failing field was mapped."""
    source = columns.get(exc.field) if columns else None
    if source is None:
        return str(exc)
    return f"field {source!r} (data.columns.{exc.field}) {exc.problem}"
