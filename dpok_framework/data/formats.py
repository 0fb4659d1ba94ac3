"""Preference-data formats: detection from the columns and conversion of one record to plain strings.

=================  ==============================================================================
``standard``       ``prompt``, ``chosen``, ``rejected``: strings
``conversational`` ``prompt``, ``chosen``, ``rejected``: lists of ``{role, content}`` messages,
                   rendered with the tokenizer's chat template (see :mod:`.chat`)
``implicit``       only ``chosen`` / ``rejected`` full transcripts (strings, HH-RLHF style, or message
                   lists); the shared prompt is split off (see :mod:`.implicit`)
``llamafactory``   LLaMA-Factory pairwise data: sharegpt style ``conversations`` (``{from, value}``
                   turns) + ``chosen`` / ``rejected`` turns, or alpaca style ``instruction`` (+ ``input``)
                   + ``chosen`` / ``rejected`` strings; optional ``system``; rendered as conversations
=================  ==============================================================================

Every converter returns ``(prompt, chosen, rejected)`` strings or raises :class:`RowError`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..errors import DataError
from .chat import render_pair, require_chat_template
from .implicit import split_messages, split_transcripts
from .io import UnreadableRecord
from .validation import (Message, RowError, check_messages, check_pair_text, check_unicode, require_content,
                         require_field, require_messages, require_str)

FORMATS = ("standard", "conversational", "implicit", "llamafactory")
NEEDS_TOKENIZER = {"conversational", "llamafactory"}

Converter = Callable[[Mapping[str, Any], Any], tuple[str, str, str]]


def detect_format(record: Any, source: str) -> str:
    """The format of a file from its first record's columns (and the type of ``prompt``/``chosen``)."""
    if isinstance(record, UnreadableRecord):
        raise DataError(f"{source}: no readable record to detect the data format from; the first one: "
                        f"{record.error}")
    if not isinstance(record, Mapping):
        raise DataError(f"{source} row 0: expected a JSON object per record, got {type(record).__name__}")
    keys = set(record)
    if "conversations" in keys or ("instruction" in keys and {"chosen", "rejected"} <= keys):
        return "llamafactory"
    if {"prompt", "chosen", "rejected"} <= keys:
        return "conversational" if isinstance(record["prompt"], list) else "standard"
    if {"chosen", "rejected"} <= keys:
        # implicit-prompt strings or message lists; prompt-less standard data would also land here
        return "implicit"
    raise DataError(f"{source}: cannot detect the data format from the columns {sorted(keys)}; expected "
                    "prompt/chosen/rejected (standard or conversational), chosen/rejected only (implicit) or "
                    "conversations/chosen/rejected (llamafactory); set data.format explicitly")


# -- converters ------------------------------------------------------------------------------------


def _standard(record: Mapping[str, Any], tokenizer: Any) -> tuple[str, str, str]:
    return (require_str(record, "prompt"), require_str(record, "chosen"), require_str(record, "rejected"))


def _conversational(record: Mapping[str, Any], tokenizer: Any) -> tuple[str, str, str]:
    prompt = require_messages(record, "prompt")
    chosen = require_content(require_messages(record, "chosen"), "chosen")
    rejected = require_content(require_messages(record, "rejected"), "rejected")
    if chosen == rejected:
        raise RowError("rejected", "is identical to 'chosen' (a preference pair needs two different "
                                   "completions)")
    return render_pair(tokenizer, prompt, chosen, rejected)


def _implicit(record: Mapping[str, Any], tokenizer: Any) -> tuple[str, str, str]:
    chosen, rejected = require_field(record, "chosen"), require_field(record, "rejected")
    if isinstance(chosen, list):
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise RowError("chosen", "holds messages, which need a tokenizer with a chat template to render")
        prompt, c, r = split_messages(check_messages(chosen, "chosen"), check_messages(rejected, "rejected"))
        return render_pair(tokenizer, prompt, require_content(c, "chosen"), require_content(r, "rejected"))
    return split_transcripts(require_str(record, "chosen"), require_str(record, "rejected"))


SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "observation": "tool", "tool": "tool", "function_call": "assistant"}


def _sharegpt_turn(turn: Any, field: str, index: int | None = None) -> Message:
    where = f"turn {index} " if index is not None else ""
    if isinstance(turn, str):
        return {"role": "assistant", "content": turn}
    if not isinstance(turn, Mapping):
        raise RowError(field, f"{where}must be a {{from, value}} object, got {type(turn).__name__}")
    role_key, content_key = ("from", "value") if "from" in turn else ("role", "content")
    role, content = turn.get(role_key), turn.get(content_key)
    if not isinstance(role, str) or role not in SHAREGPT_ROLES:
        raise RowError(field, f"{where}has role {role!r}; expected one of {sorted(SHAREGPT_ROLES)}")
    if not isinstance(content, str):
        raise RowError(field, f"{where}{content_key!r} must be a string, got {type(content).__name__}")
    return {"role": SHAREGPT_ROLES[role], "content": content}


def _llamafactory_completion(record: Mapping[str, Any], field: str) -> list[Message]:
    value = require_field(record, field)
    turns = value if isinstance(value, list) else [value]
    if not turns:
        raise RowError(field, "is empty")
    msgs = [_sharegpt_turn(t, field, i if isinstance(value, list) else None) for i, t in enumerate(turns)]
    return require_content(msgs, field)


def _llamafactory(record: Mapping[str, Any], tokenizer: Any) -> tuple[str, str, str]:
    if "conversations" in record:
        conv = require_field(record, "conversations")
        if not isinstance(conv, list):
            raise RowError("conversations", f"must be a list of {{from, value}} turns, got {type(conv).__name__}")
        if not conv:
            raise RowError("conversations", "is empty")
        prompt = [_sharegpt_turn(t, "conversations", i) for i, t in enumerate(conv)]
    else:
        instruction = require_str(record, "instruction")
        extra = record.get("input")
        if extra is not None and not isinstance(extra, str):
            raise RowError("input", f"must be a string, got {type(extra).__name__}")
        prompt = [{"role": "user", "content": instruction + ("\n" + extra if extra else "")}]
    system = record.get("system")
    if system is not None:
        if not isinstance(system, str):
            raise RowError("system", f"must be a string, got {type(system).__name__}")
        if system.strip() and prompt[0]["role"] != "system":
            prompt = [{"role": "system", "content": system}] + prompt
    if prompt[-1]["role"] == "assistant":
        raise RowError("conversations", "must end with a 'human' turn (the one chosen/rejected answer)")
    if not any(m["role"] == "user" for m in prompt):
        raise RowError("conversations", "has no 'human' turn")
    chosen = _llamafactory_completion(record, "chosen")
    rejected = _llamafactory_completion(record, "rejected")
    if chosen == rejected:
        raise RowError("rejected", "is identical to 'chosen' (a preference pair needs two different "
                                   "completions)")
    return render_pair(tokenizer, prompt, chosen, rejected)


CONVERTERS: dict[str, Converter] = {"standard": _standard, "conversational": _conversational,
                                    "implicit": _implicit, "llamafactory": _llamafactory}


def convert_record(record: Any, fmt: str, tokenizer: Any = None) -> tuple[str, str, str]:
    """One record -> checked ``(prompt, chosen, rejected)`` strings; RowError names the bad field."""
    if isinstance(record, UnreadableRecord):
        raise record.error
    if not isinstance(record, Mapping):
        raise RowError("<record>", f"must be a JSON object, got {type(record).__name__}")
    check_unicode(record)
    prompt, chosen, rejected = CONVERTERS[fmt](record, tokenizer)
    check_pair_text(prompt, chosen, rejected)
    return prompt, chosen, rejected


def check_format_prerequisites(fmt: str, tokenizer: Any, source: str) -> None:
    if fmt not in CONVERTERS:
        raise DataError(f"{source}: unknown data format {fmt!r}; expected auto or one of {', '.join(FORMATS)}")
    if fmt in NEEDS_TOKENIZER:
        require_chat_template(tokenizer, source)
