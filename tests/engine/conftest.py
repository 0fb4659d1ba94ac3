"""Fixtures for engine tests: a tiny saved model + tokenizer and a small pair file (no downloads)."""

from __future__ import annotations

import pytest

from .tiny import auto_fresh_accelerate  # noqa: F401  (autouse: clean Accelerate state, private cache)
from .tiny import save_tiny_model, write_pairs


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny-llama") / "model")


@pytest.fixture(scope="session")
def pairs_file(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", n=24)

