"""The Python API: a datasets.Dataset built in memory trains exactly like the same rows read from a JSONL file."""

from __future__ import annotations

import json

import datasets
import pytest
from safetensors.torch import load_file

from dpok_framework.config import config_from_dict
from dpok_framework.engine import Engine, read_metrics
from dpok_framework.errors import ConfigError
from engine import tiny as TINY  # the engine tests' tiny model and data helpers


@pytest.fixture(autouse=True)
def _fresh_accelerate(monkeypatch, tmp_path):
    monkeypatch.setenv("DPOK_CACHE", str(tmp_path / "dpok-cache"))
    TINY.reset_accelerate()
    yield
    TINY.reset_accelerate()


def _train(tmp_path, name, model, pairs, data, **kwargs):
    cfg = TINY.run_config(tmp_path / name, model, pairs, training={"max_steps": 3, "eval_steps": 3})
    dumped = cfg.model_dump()
    dumped["data"].update(data)
    cfg = config_from_dict(dumped)
    result = Engine(cfg, **kwargs).train()
    TINY.reset_accelerate()
    return result


def test_in_memory_dataset_trains_like_the_same_rows_from_a_jsonl_file(tmp_path):
    model = TINY.save_tiny_model(tmp_path / "model")
    pairs = TINY.write_pairs(tmp_path / "pairs.jsonl", n=16)
    rows = [json.loads(line) for line in pairs.read_text().splitlines()]
    renamed = datasets.Dataset.from_list([{"question": r["prompt"], "good": r["chosen"], "bad": r["rejected"]}
                                          for r in rows])

    from_file = _train(tmp_path, "file", model, pairs, {})
    in_memory = _train(tmp_path, "memory", model, pairs,
                       {"train": None, "columns": {"prompt": "question", "chosen": "good", "rejected": "bad"}},
                       train_dataset=renamed)

    a, b = read_metrics(from_file.run_dir / "metrics.jsonl"), read_metrics(in_memory.run_dir / "metrics.jsonl")
    assert [r["split"] for r in a] == [r["split"] for r in b] and {"train", "eval"} <= {r["split"] for r in a}
    assert a == b  # every train and eval metric, exactly
    wa = load_file(str(from_file.run_dir / "model" / "model.safetensors"))
    wb = load_file(str(in_memory.run_dir / "model" / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(wa[k].equal(wb[k]) for k in wa)
    sa, sb = (json.loads((r.run_dir / "summary.json").read_text()) for r in (from_file, in_memory))
    assert sa["n_pairs"] == sb["n_pairs"] == 4 and sa["policy"] == sb["policy"]


def test_a_file_and_a_dataset_for_train_is_refused_before_training(tmp_path):
    model = TINY.save_tiny_model(tmp_path / "model")
    pairs = TINY.write_pairs(tmp_path / "pairs.jsonl", n=8)
    cfg = TINY.run_config(tmp_path, model, pairs)
    with pytest.raises(ConfigError, match="data.train is .* and train_dataset was passed too"):
        Engine(cfg, train_dataset=[json.loads(line) for line in pairs.read_text().splitlines()]).train()
