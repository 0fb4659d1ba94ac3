"""Fixtures for the reliability tests: the engine tests' tiny model and pairs (no downloads), a clean
Accelerate state and cache per test."""

from __future__ import annotations

import pytest

from engine.tiny import reset_accelerate, save_tiny_model, write_pairs


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("rel-tiny-llama") / "model")


@pytest.fixture(scope="session")
def pairs_file(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("rel-pairs") / "pairs.jsonl", n=24)


@pytest.fixture(autouse=True)
def _fresh_accelerate(monkeypatch, tmp_path):
    monkeypatch.setenv("DPOK_CACHE", str(tmp_path / "dpok-cache"))
    reset_accelerate()
    yield
    reset_accelerate()
