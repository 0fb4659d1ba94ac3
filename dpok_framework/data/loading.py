"""Loading preference pairs into ``datasets.Dataset`` objects with columns prompt/chosen/rejected/row.

``prompt``, ``chosen`` and ``rejected`` are plain strings such that ``prompt + chosen`` is the full text
the policy scores; ``row`` is the record's 0-based index in its source (file, list, dataset or DatasetDict split).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import datasets
import numpy as np

from ..errors import ConfigError, DataError
from .bundled import bundled_dataset_path
from .columns import check_columns_present, describe_row_error, rename_columns
from .formats import check_format_prerequisites, convert_record, detect_format
from .sources import open_source
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


def _peek(it: Iterator[tuple[int, Any]]) -> tuple[tuple[int, Any] | None, Iterator[tuple[int, Any]]]:
    first = next(it, None)
    if first is None:
        return None, it

    def chain() -> Iterator[tuple[int, Any]]:
        yield first
        yield from it
    return first, chain()


def load_pairs_from(source: Any, format: str = "auto", on_invalid: str = "error", tokenizer: Any = None,
                    name: str | None = None, max_samples: int | None = None,
                    columns: Mapping[str, str] | None = None, split: str | None = None,
                    split_option: str = "split") -> PairSplits:
    """Load one source -> ``PairSplits`` (``eval`` None).

    ``source``: a JSON/JSONL(.gz)/Parquet file, a ``save_to_disk`` directory, a ``datasets.Dataset``, a
    ``DatasetDict`` (``split`` names the split; None: its only one) or a list of dicts.
    ``format``: ``auto`` | ``standard`` | ``conversational`` | ``implicit`` | ``llamafactory``.
    ``on_invalid``: ``error`` raises :class:`DataError` at the first malformed row (naming the source,
    row and field); ``skip`` drops such rows and reports them (``PairSplits.skipped``, a log warning).
    ``tokenizer``: needed for conversational data (its chat template renders the messages).
    ``name``: label used in messages (default: the file or directory name, ``<list>`` or ``<dataset>``).
    ``max_samples``: stop after this many valid rows.
    ``columns``: ``{prompt|chosen|rejected: source column}``, applied to every record first.
    ``split_option``: the setting an error about ``split`` tells the user to change.
    """
    if on_invalid not in ON_INVALID:
        raise DataError(f"on_invalid must be one of {ON_INVALID}, got {on_invalid!r}")
    if max_samples is not None and max_samples <= 0:
        raise DataError(f"max_samples must be positive, got {max_samples}")
    columns = dict(columns or {})
    label, records = open_source(source, split=split, name=name, split_option=split_option)
    first, records = _peek(records)
    if first is None:
        raise DataError(f"{label}: no preference pairs (the source is empty)")
    check_columns_present(first[1], columns, label)
    fmt = detect_format(rename_columns(first[1], columns), label) if format == "auto" else format
    check_format_prerequisites(fmt, tokenizer, label)

    cols: dict[str, list] = {"prompt": [], "chosen": [], "rejected": [], "row": []}
    reasons: list[str] = []
    for row, record in records:
        if max_samples is not None and len(cols["row"]) >= max_samples:
            break
        try:
            prompt, chosen, rejected = convert_record(rename_columns(record, columns), fmt, tokenizer)
        except RowError as exc:
            message = f"{label} row {row}: {describe_row_error(exc, columns)}"
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


def _pick(configured: str | None, given: Any, part: str) -> Any:
    """The one source of ``part`` (train/eval): ``data.<part>`` or ``<part>_dataset``, never both."""
    if configured is not None and given is not None:
        raise ConfigError(f"data.{part} is {configured!r} and {part}_dataset was passed too: give the {part} "
                          f"data once (set config.data.{part} = None to train on the in-memory one, or drop "
                          f"{part}_dataset)")
    return given if given is not None else configured


def _label(given: Any, part: str) -> str | None:
    """Messages call an in-memory source ``train_dataset`` / ``eval_dataset``; paths keep their own name."""
    return None if given is None or isinstance(given, (str, os.PathLike)) else f"{part}_dataset"


def load_pairs(data_config: Any, tokenizer: Any = None, *, train_dataset: Any = None,
               eval_dataset: Any = None) -> PairSplits:
    """Load train/eval pairs as configured by the ``data:`` section (:class:`~dpok_framework.config.DataConfig`).

    ``train_dataset`` / ``eval_dataset`` (the Python API's in-memory data): anything
    :func:`load_pairs_from` takes; each replaces a ``data.train`` / ``data.eval`` that is None, and
    giving both for one part is a :class:`ConfigError`.  With no train source at all the bundled HH-RLHF
    harmless-base subset (implicit format) is loaded.  Without an eval source, ``data.eval_fraction`` of
    the train rows are held out (seeded by ``data.seed``).  ``data.max_samples`` caps the valid rows read
    from each source (before the split); ``data.columns`` applies to every source but the bundled one.
    """
    cfg = data_config
    train_src = _pick(cfg.train, train_dataset, "train")
    eval_src = _pick(cfg.eval, eval_dataset, "eval")
    common = dict(format=cfg.format, on_invalid=cfg.on_invalid, tokenizer=tokenizer, max_samples=cfg.max_samples,
                  columns=cfg.columns)
    if train_src is None:  # the bundled subset is implicit-format whatever data.format says about user files
        train = load_pairs_from(bundled_dataset_path(), format="implicit", on_invalid=cfg.on_invalid,
                                max_samples=cfg.max_samples)
    else:
        train = load_pairs_from(train_src, name=_label(train_dataset, "train"), split=cfg.train_split,
                                split_option="data.train_split", **common)
    if eval_src is not None:
        ev = load_pairs_from(eval_src, name=_label(eval_dataset, "eval"), split=cfg.eval_split,
                             split_option="data.eval_split", **common)
        return PairSplits(train=train.train, eval=ev.train, skipped=train.skipped + ev.skipped,
                          skip_reasons=train.skip_reasons + ev.skip_reasons, format=train.format)
    tr, ev = split_eval(train.train, cfg.eval_fraction, cfg.seed)
    return PairSplits(train=tr, eval=ev, skipped=train.skipped, skip_reasons=train.skip_reasons,
                      format=train.format)
