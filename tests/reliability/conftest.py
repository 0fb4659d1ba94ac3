"""Fixtures for the reliability tests: the engine tests' tiny model and pairs (no downloads), a clean
Accelerate state and cache per test."""

from __future__ import annotations

import pytest

from engine.tiny import auto_fresh_accelerate  # noqa: F401  (autouse: clean Accelerate state, private cache)
from engine.tiny import save_tiny_model, write_pairs


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("rel-tiny-llama") / "model")


@pytest.fixture(scope="session")
def pairs_file(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("rel-pairs") / "pairs.jsonl", n=24)

