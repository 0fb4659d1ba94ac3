"""Loading preference pairs into ``datasets.Dataset`` objects with columns prompt/chosen/rejected/row.

``prompt``, ``chosen`` and ``rejected`` are plain strings such that ``prompt + chosen`` is the full text
the policy scores; ``row`` is the record's 0-based index in its source (file, list or dataset).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import datasets
import numpy as np

from ..errors import DataError
from .bundled import bundled_dataset_path
from .formats import check_format_prerequisites, convert_record, detect_format
from .io import UnreadableRecord, iter_records
from .validation import RowError

logger = logging.getLogger(__name__)

ON_INVALID = ("error", "skip")
TEXT_COLUMNS = ("prompt", "chosen", "rejected")
MAX_REPORTED_REASONS = 5


@dataclass
class PairSplits:
    """Result of loading: train (and eval) datasets plus what validation dropped.

    ``skipped`` counts rows dropped with ``on_invalid="skip"`` (train and eval sources together);
    ``skip_reasons`` holds every reason, each naming the source, row and field.
    """

    train: datasets.Dataset
    eval: datasets.Dataset | None = None
    skipped: int = 0
    skip_reasons: list[str] = field(default_factory=list)
    format: str = ""


def _features() -> datasets.Features:
    return datasets.Features({"prompt": datasets.Value("string"), "chosen": datasets.Value("string"),
                              "rejected": datasets.Value("string"), "row": datasets.Value("int64")})


def _records(source: Any) -> tuple[str, Iterator[tuple[int, Any]]]:
    """(label for messages, iterator of (row, record)) for any supported source."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name, iter_records(source)
    if isinstance(source, datasets.Dataset):
        return "<dataset>", enumerate(source)
    if isinstance(source, (list, tuple)):
        return "<list>", enumerate(source)
    raise DataError(f"cannot load preference pairs from {type(source).__name__}; pass a file path, a list of "
                    "dicts or a datasets.Dataset")


def _peek(it: Iterator[tuple[int, Any]]) -> tuple[tuple[int, Any] | None, Iterator[tuple[int, Any]]]:
    """The first readable record (format detection) and an iterator over all of them, unreadable ones too."""
    held: list[tuple[int, Any]] = []
    for item in it:
        held.append(item)
        if not isinstance(item[1], UnreadableRecord):
            break
    if not held:
        return None, it

    def chain() -> Iterator[tuple[int, Any]]:
        yield from held
        yield from it
    return held[-1], chain()


def load_pairs_from(source: Any, format: str = "auto", on_invalid: str = "error", tokenizer: Any = None,
                    name: str | None = None, max_samples: int | None = None) -> PairSplits:
    """Load one source (file path, list of dicts or ``datasets.Dataset``) -> ``PairSplits`` (``eval`` None).

    ``format``: ``auto`` | ``standard`` | ``conversational`` | ``implicit`` | ``llamafactory``.
    ``on_invalid``: ``error`` raises :class:`DataError` at the first malformed row (naming the source,
    row and field); ``skip`` drops such rows and reports them (``PairSplits.skipped``, a log warning).
    ``tokenizer``: needed for conversational data (its chat template renders the messages).
    ``name``: label used in messages (default: the file name, ``<list>`` or ``<dataset>``).
    ``max_samples``: stop after this many valid rows.
    """
    if on_invalid not in ON_INVALID:
        raise DataError(f"on_invalid must be one of {ON_INVALID}, got {on_invalid!r}")
    if max_samples is not None and max_samples <= 0:
        raise DataError(f"max_samples must be positive, got {max_samples}")
    label, records = _records(source)
    label = name or label
    first, records = _peek(records)
    if first is None:
        raise DataError(f"{label}: no preference pairs (the source is empty)")
    fmt = detect_format(first[1], label) if format == "auto" else format
    check_format_prerequisites(fmt, tokenizer, label)

    cols: dict[str, list] = {"prompt": [], "chosen": [], "rejected": [], "row": []}
    reasons: list[str] = []
    for row, record in records:
        if max_samples is not None and len(cols["row"]) >= max_samples:
            break
        try:
            prompt, chosen, rejected = convert_record(record, fmt, tokenizer)
        except RowError as exc:
            message = f"{label} row {row}: {exc}"
            if on_invalid == "error":
                raise DataError(f"{message}; fix the row (read as {fmt} format) or set data.on_invalid: skip") from None
            reasons.append(message)
            continue
        cols["prompt"].append(prompt)
        cols["chosen"].append(chosen)
        cols["rejected"].append(rejected)
        cols["row"].append(row)
    if reasons:
        shown = "\n  ".join(reasons[:MAX_REPORTED_REASONS])
        more = f"\n  ... and {len(reasons) - MAX_REPORTED_REASONS} more" if len(reasons) > MAX_REPORTED_REASONS else ""
        logger.warning("%s: skipped %d invalid row(s) (on_invalid=skip):\n  %s%s", label, len(reasons), shown, more)
    if not cols["row"]:
        raise DataError(f"{label}: no valid preference pairs left"
                        + (f" (all {len(reasons)} rows were invalid; first: {reasons[0]})" if reasons else ""))
    ds = datasets.Dataset.from_dict(cols, features=_features())
    return PairSplits(train=ds, eval=None, skipped=len(reasons), skip_reasons=reasons, format=fmt)


def split_eval(ds: datasets.Dataset, fraction: float, seed: int) -> tuple[datasets.Dataset, datasets.Dataset | None]:
    """Deterministically split ``round(fraction * n)`` rows (at least 1) off ``ds`` as eval.

    The held-out indices are a seeded permutation's prefix; both parts keep the source order.
    """
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"eval_fraction must be in [0, 1), got {fraction}")
    n = len(ds)
    if fraction == 0.0:
        return ds, None
    n_eval = max(1, int(round(fraction * n)))
    if n - n_eval < 1:
        raise DataError(f"cannot split eval_fraction={fraction} off {n} pair(s) and keep a training pair; "
                        "add data, lower data.eval_fraction or set data.eval")
    perm = np.random.default_rng(seed).permutation(n)
    eval_idx = np.sort(perm[:n_eval])
    train_idx = np.sort(perm[n_eval:])
    return ds.select(train_idx.tolist()), ds.select(eval_idx.tolist())


def load_pairs(data_config: Any, tokenizer: Any = None) -> PairSplits:
    """Load train/eval pairs as configured by the ``data:`` section (:class:`~dpok_framework.config.DataConfig`).

    ``data.train`` None loads the bundled HH-RLHF harmless-base subset (implicit format).  Without ``data.eval``,
    ``data.eval_fraction`` of the train rows are held out (seeded by ``data.seed``).  ``data.max_samples``
    caps the valid rows read from each source (before the split).
    """
    cfg = data_config
    if cfg.train is None:  # the bundled subset is implicit-format whatever data.format says about user files
        train = load_pairs_from(bundled_dataset_path(), format="implicit", on_invalid=cfg.on_invalid,
                                max_samples=cfg.max_samples)
    else:
        train = load_pairs_from(cfg.train, format=cfg.format, on_invalid=cfg.on_invalid, tokenizer=tokenizer,
                                max_samples=cfg.max_samples)
    if cfg.eval is not None:
        ev = load_pairs_from(cfg.eval, format=cfg.format, on_invalid=cfg.on_invalid, tokenizer=tokenizer,
                             max_samples=cfg.max_samples)
        return PairSplits(train=train.train, eval=ev.train, skipped=train.skipped + ev.skipped,
                          skip_reasons=train.skip_reasons + ev.skip_reasons, format=train.format)
    tr, ev = split_eval(train.train, cfg.eval_fraction, cfg.seed)
    return PairSplits(train=tr, eval=ev, skipped=train.skipped, skip_reasons=train.skip_reasons,
                      format=train.format)
