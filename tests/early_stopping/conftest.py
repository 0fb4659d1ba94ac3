"""The engine tests' tiny model and pairs, and a fresh Accelerate state per test."""

from engine.conftest import auto_fresh_accelerate, pairs_file, tiny_model_dir  # noqa: F401
