"""Field checks shared by every format: a failed check raises :class:`RowError` naming the field.

The loader turns a :class:`RowError` into a :class:`~dpok_framework.errors.DataError` that also names
the file and the row (``train.jsonl row 17: field 'chosen' is empty``), or counts it as skipped when
``on_invalid="skip"``.
"""

from __future__ import annotations

from typing import Any, Mapping

Message = dict[str, str]


class RowError(ValueError):
    """One record is malformed; ``field`` is the offending column."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field {field!r} {problem}")
        self.field = field
        self.problem = problem


class LineError(RowError):
    """A row whose line of the file could not be parsed at all (no field to name: the line is named)."""

    def __init__(self, line: int, problem: str) -> None:
        ValueError.__init__(self, f"line {line}: {problem}")
        self.field = f"<line {line}>"
        self.problem = problem
        self.line = line


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def require_field(record: Mapping[str, Any], field: str) -> Any:
    if field not in record:
        raise RowError(field, "is missing")
    if record[field] is None:
        raise RowError(field, "is null")
    return record[field]


def require_str(record: Mapping[str, Any], field: str, *, allow_empty: bool = False) -> str:
    """The string in ``record[field]``; missing, non-string and (unless allowed) blank values fail."""
    value = require_field(record, field)
    if not isinstance(value, str):
        raise RowError(field, f"must be a string, got {_type_name(value)}")
    if not allow_empty and not value.strip():
        raise RowError(field, "is empty")
    return value


def check_messages(value: Any, field: str, *, role_key: str = "role", content_key: str = "content"
                   ) -> list[Message]:
    """A non-empty list of ``{role, content}`` dicts with string values -> normalised copies."""
    if not isinstance(value, list):
        raise RowError(field, f"must be a list of {{{role_key}, {content_key}}} messages, got "
                              f"{_type_name(value)}")
    if not value:
        raise RowError(field, "is empty")
    out: list[Message] = []
    for i, msg in enumerate(value):
        if not isinstance(msg, Mapping):
            raise RowError(field, f"message {i} must be a {{{role_key}, {content_key}}} object, got "
                                  f"{_type_name(msg)}")
        for key in (role_key, content_key):
            if key not in msg:
                raise RowError(field, f"message {i} has no {key!r}")
            if not isinstance(msg[key], str):
                raise RowError(field, f"message {i} {key!r} must be a string, got {_type_name(msg[key])}")
        out.append({"role": msg[role_key], "content": msg[content_key]})
    return out


def require_messages(record: Mapping[str, Any], field: str) -> list[Message]:
    return check_messages(require_field(record, field), field)


def require_content(messages: list[Message], field: str) -> list[Message]:
    """A completion's messages must say something: at least one non-blank ``content``."""
    if not any(m["content"].strip() for m in messages):
        raise RowError(field, "is empty")
    return messages


def check_pair_text(prompt: str, chosen: str, rejected: str) -> None:
    """Checks on the final strings: non-blank prompt and completions, chosen != rejected."""
    if not prompt.strip():
        raise RowError("prompt", "is empty")
    if not chosen.strip():
        raise RowError("chosen", "is empty")
    if not rejected.strip():
        raise RowError("rejected", "is empty")
    if chosen == rejected:
        raise RowError("rejected", "is identical to 'chosen' (a preference pair needs two different "
                                   "completions)")


def _bad_unicode(text: str) -> str | None:
    """Why ``text`` cannot be stored as UTF-8 (Arrow refuses it), or None.  Bytes that were not UTF-8 in
    the file arrive as U+DC80..U+DCFF (``surrogateescape``); any other lone surrogate came from a JSON
    escape such as ``"\\ud800"``."""
    for i, ch in enumerate(text):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            return f"holds bytes that are not valid UTF-8 (byte 0x{code - 0xDC00:02x} at character {i})"
        if 0xD800 <= code <= 0xDFFF:
            return f"holds a lone surrogate \\u{code:04x} at character {i} (not valid Unicode)"
    return None


def check_unicode(record: Mapping[str, Any]) -> None:
    """RowError naming the top-level field whose key or text (at any depth) is not valid Unicode."""
    def walk(value: Any) -> str | None:
        if isinstance(value, str):
            return _bad_unicode(value)
        if isinstance(value, Mapping):
            for k, v in value.items():
                why = (walk(k) if isinstance(k, str) else None) or walk(v)
                if why:
                    return why
        elif isinstance(value, (list, tuple)):
            for v in value:
                why = walk(v)
                if why:
                    return why
        return None

    for key, value in record.items():
        why = walk(value)
        if why is None and isinstance(key, str) and _bad_unicode(key):
            why = "has a name that " + _bad_unicode(key)
        if why:
            raise RowError(key if isinstance(key, str) else repr(key), why)
