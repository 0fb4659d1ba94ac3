"""Training data for the trainer: load, tokenise and batch the pairs; frozen text-embedding tables."""

from __future__ import annotations

from torch.utils.data import DataLoader

from .. import data as data_mod
from ..errors import ConfigError
from ..models import cache_root
from ..objective.embeddings import TextEmbeddingTable

TOKEN_COLUMNS = ("row", "prompt_input_ids", "chosen_input_ids", "rejected_input_ids")


def load_data(config, tokenizer, accelerator, train_dataset=None, eval_dataset=None):
    """(train, eval or None, collator, splits): tokenised splits of ``data:`` (or the given datasets)."""
    with accelerator.main_process_first():
        splits = data_mod.load_pairs(config.data, tokenizer, train_dataset=train_dataset, eval_dataset=eval_dataset)
        train = data_mod.tokenize_pairs(splits.train, tokenizer, config.data)
        evals = data_mod.tokenize_pairs(splits.eval, tokenizer, config.data) if splits.eval is not None and \
            len(splits.eval) > 0 else None
    if len(train) == 0:
        raise ConfigError(f"data.train: no usable training pairs (skipped: {splits.skipped})")
    return train, evals, data_mod.PreferenceCollator(tokenizer.pad_token_id), splits


def make_loader(ds, batch_size: int, collator, shuffle: bool):
    keep = [c for c in ds.column_names if c in TOKEN_COLUMNS]
    return DataLoader(ds.select_columns(keep), batch_size=batch_size, shuffle=shuffle, collate_fn=collator)


def text_embedding_tables(embedder, splits: dict, accelerator) -> dict[str, TextEmbeddingTable]:
    """Per split (row ids are per split), the frozen encoder's embeddings, computed once and cached on disk."""
    tables = {}
    with accelerator.main_process_first():
        for split, ds in splits.items():
            if ds is not None:
                out = data_mod.compute_text_embeddings(ds, embedder, cache_root() / "embeddings")
                tables[split] = TextEmbeddingTable.from_output(out, ds)
    return tables
