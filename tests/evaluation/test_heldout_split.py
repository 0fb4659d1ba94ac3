"""The held-out split record: written from the data pipeline's split, read back by row, checked by hash."""

from __future__ import annotations

import json

import pytest

from dpok_framework.config import DataConfig
from dpok_framework.data import load_pairs
from dpok_framework.errors import DataError
from dpok_framework.evaluation.heldout_split import SPLIT_FILE, load_recorded_split, record_heldout_split


def test_bundled_split_round_trip(tmp_path):
    cfg = DataConfig(eval_fraction=0.3, seed=7)
    splits = load_pairs(cfg)
    path = record_heldout_split(tmp_path, cfg, splits.eval)
    rec = json.loads(path.read_text())
    assert rec["source"] == "bundled" and len(rec["rows"]) == 120 and path.name == SPLIT_FILE
    back = load_recorded_split(tmp_path, cfg)
    assert back["row"] == splits.eval["row"] and back["chosen"] == splits.eval["chosen"]
    assert len(load_recorded_split(tmp_path, cfg, max_samples=5)) == 5
    # nothing recorded when the held-out pairs are a file, in memory, or on another process
    assert record_heldout_split(tmp_path / "b", cfg.model_copy(update={"eval": "x.jsonl"}), splits.eval) is None
    assert record_heldout_split(tmp_path / "c", cfg, splits.eval, in_memory=True) is None
    assert record_heldout_split(tmp_path / "d", cfg, splits.eval, is_main=False) is None


def test_tampered_record_is_an_error(tmp_path):
    cfg = DataConfig(eval_fraction=0.1)
    record_heldout_split(tmp_path, cfg, load_pairs(cfg).eval)
    rec = json.loads((tmp_path / SPLIT_FILE).read_text())
    rec["rows"][0] = next(r for r in range(400) if r not in rec["rows"])
    (tmp_path / SPLIT_FILE).write_text(json.dumps(rec))
    with pytest.raises(DataError, match="changed since training"):
        load_recorded_split(tmp_path, cfg)
