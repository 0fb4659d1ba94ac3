"""Fixtures for the data tests; helpers live in data_helpers.py (importable: tests/ has no packages)."""

from __future__ import annotations

import pytest
from data_helpers import word_tokenizer


@pytest.fixture
def tok():
    return word_tokenizer()
