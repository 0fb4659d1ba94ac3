"""Tokenising preference pairs: prompt ids and completion-only ids with BOS/EOS and truncation.

For each row (``P`` = prompt ids, ``C`` = completion ids, ``L`` = ``max_length``):

1. ``P = tok(prompt)`` without special tokens; if the tokenizer normally adds BOS and ``P`` does not
   already start with it (chat templates often render BOS as text), BOS is prepended once.
2. ``C`` comes from tokenising ``prompt + completion`` jointly and cutting off ``P``; when ``P`` is not a
   prefix of the joint ids (the tokenizer merged tokens across the boundary) the row is counted, one
   :class:`TokenizationWarning` names such rows, and ``C = tok(completion)`` is used instead.
3. EOS is appended to ``C`` when the tokenizer has one, unless ``C`` already ends with it, possibly followed
   by whitespace (a chat template's end of turn, e.g. ``<|im_end|>\n``).
4. ``P`` is truncated to ``min(max_prompt_length, L - 1)`` tokens: ``keep_end`` keeps the last tokens
   (the question nearest the answer), ``keep_start`` the first; a leading BOS always stays.
5. ``C`` is truncated (keeping its start) to ``L - len(P)`` tokens, so ``len(P) + len(C) <= L`` and every
   completion keeps at least one token.
6. Pairs whose chosen and rejected ids are identical after truncation (a long shared start cut at ``L``)
   are kept but named in one :class:`TruncationWarning` (they carry zero gradient);
   :func:`identical_pairs` lists them (the engine counts them in ``summary.json``).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Sequence

import datasets

from ..errors import DataError

logger = logging.getLogger(__name__)

TRUNCATION_MODES = ("keep_end", "keep_start")
BATCH = 1024
MAX_NAMED_ROWS = 5


class TokenizationWarning(UserWarning):
    """Prompt tokens were not a prefix of the prompt+completion tokens for some rows."""


class TruncationWarning(UserWarning):
    """Some pairs' chosen and rejected token ids became identical after truncation (zero gradient)."""


def identical_pairs(ds: datasets.Dataset) -> list[int]:
    """``row`` of every tokenised pair whose chosen and rejected ids are identical (after truncation)."""
    rows = ds["row"] if "row" in ds.column_names else list(range(len(ds)))
    return [r for r, c, j in zip(rows, ds["chosen_input_ids"], ds["rejected_input_ids"]) if list(c) == list(j)]


def _warn_identical(same: list[int], n: int, max_length: int) -> None:
    """One TruncationWarning (and log line) naming the rows whose completions truncation made identical."""
    if not same:
        return
    named = ", ".join(str(r) for r in same[:MAX_NAMED_ROWS]) + (", ..." if len(same) > MAX_NAMED_ROWS else "")
    msg = (f"{len(same)} of {n} pair(s) (rows {named}): chosen and rejected are identical after truncation to "
           f"data.max_length={max_length} (they differ only beyond it), so they train at zero gradient; "
           "raise data.max_length or lower data.max_prompt_length")
    warnings.warn(msg, TruncationWarning, stacklevel=3)
    logger.warning(msg)


def adds_bos(tokenizer: Any) -> bool:
    """Whether ``tokenizer(text)`` (with special tokens) starts with the BOS token."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    without = tokenizer("a", add_special_tokens=False)["input_ids"]
    return len(with_special) > len(without) and with_special[0] == bos


def ends_turn(tokenizer: Any, ids: list[int], eos: int) -> bool:
    """Whether ``ids`` already end with EOS, possibly followed by whitespace-only tokens (a chat template's
    end of turn such as ``<|im_end|>\n``)."""
    if eos not in ids[-4:]:
        return False
    last = len(ids) - 1 - ids[::-1].index(eos)
    return last == len(ids) - 1 or not tokenizer.decode(ids[last + 1:]).strip()


def _tok(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    out: list[list[int]] = []
    for i in range(0, len(texts), BATCH):
        out.extend(list(ids) for ids in tokenizer(list(texts[i:i + BATCH]), add_special_tokens=False)["input_ids"])
    return out


def truncate_prompt(ids: list[int], limit: int, mode: str, keep_first: bool) -> list[int]:
    """``ids`` cut to ``limit`` tokens; ``keep_first`` protects a leading BOS under ``keep_end``."""
    if len(ids) <= limit:
        return ids
    if mode == "keep_start":
        return ids[:limit]
    head = ids[:1] if keep_first else []
    room = limit - len(head)
    return head + (ids[len(ids) - room:] if room > 0 else [])


def _get(cfg: Any, name: str, default: Any) -> Any:
    return getattr(cfg, name, default) if cfg is not None else default


def tokenize_pairs(ds: datasets.Dataset, tokenizer: Any, data_config: Any = None) -> datasets.Dataset:
    """Add ``prompt_input_ids``, ``chosen_input_ids``, ``rejected_input_ids`` (completion-only) to ``ds``.

    ``data_config`` supplies ``max_length``, ``max_prompt_length`` (None: only ``max_length`` bounds it)
    and ``truncation_mode`` (``keep_end`` | ``keep_start``); a ``DataConfig`` fits.  The text columns and
    ``row`` are kept (``row`` defaults to the position when ``ds`` has none).
    """
    max_length = int(_get(data_config, "max_length", 512))
    max_prompt = _get(data_config, "max_prompt_length", None)
    mode = _get(data_config, "truncation_mode", "keep_end")
    if mode not in TRUNCATION_MODES:
        raise DataError(f"data.truncation_mode must be one of {TRUNCATION_MODES}, got {mode!r}")
    if max_length < 2:
        raise DataError(f"data.max_length must be at least 2 (one prompt and one completion token), got {max_length}")
    missing = [c for c in ("prompt", "chosen", "rejected") if c not in ds.column_names]
    if missing:
        raise DataError(f"tokenize_pairs needs columns prompt/chosen/rejected; missing {missing} "
                        f"(have {ds.column_names}); load the data with load_pairs first")
    prompt_limit = max_length - 1 if max_prompt is None else min(int(max_prompt), max_length - 1)

    prompts, chosen, rejected = list(ds["prompt"]), list(ds["chosen"]), list(ds["rejected"])
    rows = list(ds["row"]) if "row" in ds.column_names else list(range(len(ds)))
    bos = tokenizer.bos_token_id if adds_bos(tokenizer) else None
    eos = getattr(tokenizer, "eos_token_id", None)

    p_ids = _tok(tokenizer, prompts)
    mismatched: list[int] = []
    completions: dict[str, list[list[int]]] = {}
    for key, texts in (("chosen", chosen), ("rejected", rejected)):
        joint = _tok(tokenizer, [p + c for p, c in zip(prompts, texts)])
        bad = [i for i, (p, j) in enumerate(zip(p_ids, joint)) if j[:len(p)] != p]
        separate = dict(zip(bad, _tok(tokenizer, [texts[i] for i in bad]))) if bad else {}
        completions[key] = [separate[i] if i in separate else j[len(p):] for i, (p, j) in enumerate(zip(p_ids, joint))]
        mismatched.extend(bad)

    out_p, out_c, out_r = [], [], []
    n_prompt_cut = n_completion_cut = 0
    for i in range(len(ds)):
        p = p_ids[i]
        if bos is not None and (not p or p[0] != bos):
            p = [bos] + p
        cut = truncate_prompt(p, prompt_limit, mode, keep_first=bos is not None)
        n_prompt_cut += len(cut) < len(p)
        room = max_length - len(cut)
        pair = []
        for key in ("chosen", "rejected"):
            c = completions[key][i]
            if eos is not None and not ends_turn(tokenizer, c, eos):
                c = c + [eos]
            if not c:
                raise DataError(f"row {rows[i]}: field {key!r} tokenises to no tokens and the tokenizer has no "
                                "EOS token to mark the end of the completion")
            n_completion_cut += len(c) > room
            pair.append(c[:room])
        out_p.append(cut)
        out_c.append(pair[0])
        out_r.append(pair[1])

    bad_rows = sorted({rows[i] for i in mismatched})
    if bad_rows:
        named = ", ".join(str(r) for r in bad_rows[:MAX_NAMED_ROWS])
        named += ", ..." if len(bad_rows) > MAX_NAMED_ROWS else ""
        warnings.warn(f"{len(bad_rows)} of {len(ds)} row(s) (rows {named}): the prompt's tokens are not a prefix "
                      "of the prompt+completion tokens (the tokenizer merges tokens across the boundary); "
                      "used the separately tokenised completion for them", TokenizationWarning, stacklevel=2)
    _warn_identical([rows[i] for i in range(len(ds)) if out_c[i] == out_r[i]], len(ds), max_length)
    if n_prompt_cut or n_completion_cut:
        logger.info("tokenize_pairs: truncated %d prompt(s) to %d tokens (%s) and %d completion(s) to fit "
                    "max_length=%d", n_prompt_cut, prompt_limit, mode, n_completion_cut, max_length)

    ids = datasets.Sequence(datasets.Value("int32"))
    features = datasets.Features({"prompt": datasets.Value("string"), "chosen": datasets.Value("string"),
                                  "rejected": datasets.Value("string"), "row": datasets.Value("int64"),
                                  "prompt_input_ids": ids, "chosen_input_ids": ids, "rejected_input_ids": ids})
    return datasets.Dataset.from_dict({"prompt": prompts, "chosen": chosen, "rejected": rejected,
                                       "row": rows, "prompt_input_ids": out_p, "chosen_input_ids": out_c,
                                       "rejected_input_ids": out_r}, features=features)
