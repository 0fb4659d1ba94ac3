"""Preference data: sources (files, save_to_disk directories, datasets objects, lists), column mapping,
loading (standard / conversational / implicit / llamafactory), validation, tokenisation, collation and
cached frozen-encoder embeddings.

    >>> from dpok_framework.data import load_pairs, tokenize_pairs, PreferenceCollator
    >>> splits = load_pairs(cfg.data, tokenizer)           # .train / .eval: prompt, chosen, rejected, row
    >>> splits = load_pairs(cfg.data, tokenizer, train_dataset=ds)   # in memory: Dataset, list of dicts, ...
    >>> train = tokenize_pairs(splits.train, tokenizer, cfg.data)
    >>> batch = PreferenceCollator(pad_token_id)(list(train.select(range(4))))
"""

from __future__ import annotations

from .bundled import bundled_dataset_path
from .collator import PreferenceCollator
from .embeddings import TextEmbeddings, compute_text_embeddings, dataset_fingerprint
from .formats import FORMATS, detect_format
from .loading import PairSplits, load_pairs, load_pairs_from, split_eval
from .tokenize import TokenizationWarning, tokenize_pairs

__all__ = ["FORMATS", "PairSplits", "PreferenceCollator", "TextEmbeddings", "TokenizationWarning",
           "bundled_dataset_path", "compute_text_embeddings", "dataset_fingerprint", "detect_format",
           "load_pairs", "load_pairs_from", "split_eval", "tokenize_pairs"]
