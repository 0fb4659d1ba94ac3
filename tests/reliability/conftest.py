"""Fixtures for the reliability tests: the engine tests' tiny model and pairs (no downloads), a clean
Accelerate state and cache per test."""

from engine.conftest import auto_fresh_accelerate, pairs_file, tiny_model_dir  # noqa: F401
