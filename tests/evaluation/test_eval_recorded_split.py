"""`dpok eval RUN` on the held-out split the run cut from data.train (recorded, not re-drawn) (issue 16)."""

from __future__ import annotations

import csv
import json
import os

import pytest
from click.testing import CliRunner

from dpok_framework.cli.main import cli
from dpok_framework.config import config_from_dict
from dpok_framework.errors import DataError
from dpok_framework.evaluation.evaluate import evaluate
from dpok_framework.evaluation.heldout_split import SPLIT_FILE

from engine.tiny import reset_accelerate, save_tiny_model, write_pairs  # tests/engine helpers


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from dpok_framework.engine import Engine

    root = tmp_path_factory.mktemp("splitrun")
    old = os.environ.get("DPOK_CACHE")
    os.environ["DPOK_CACHE"] = str(root / "cache")
    model = save_tiny_model(root / "base")
    pairs = write_pairs(root / "pairs.jsonl", n=20, seed=1)
    cfg = config_from_dict({
        "model": {"path": str(model)},
        "data": {"train": str(pairs), "eval_fraction": 0.3, "seed": 5, "max_length": 64, "max_prompt_length": 32},
        "training": {"lr": 1e-3, "batch_size": 4, "max_steps": 2, "lr_scheduler": "constant"},
        "output": {"dir": str(root / "run")}})
    reset_accelerate()
    res = Engine(cfg).train()
    reset_accelerate()
    yield root, res
    if old is None:
        os.environ.pop("DPOK_CACHE", None)
    else:
        os.environ["DPOK_CACHE"] = old


def test_eval_uses_the_recorded_split(run):
    root, res = run
    rec = json.loads((res.run_dir / SPLIT_FILE).read_text())
    assert len(rec["rows"]) == 6 and rec["seed"] == 5 and rec["source"] == str((root / "pairs.jsonl").resolve())
    reset_accelerate()
    out = CliRunner().invoke(cli, ["eval", str(res.run_dir)])
    assert out.exit_code == 0, out.output
    with (res.run_dir / "eval" / "pairs.csv").open() as fh:
        rows = [int(r["index"]) for r in csv.DictReader(fh)]
    assert rows == rec["rows"]
    ev = json.loads((res.run_dir / "eval" / "eval.json").read_text())
    assert ev["data"].endswith(SPLIT_FILE) and ev["metrics"]["num_pairs"] == 6.0
    # the engine's own held-out numbers on that split are the ones dpok eval reproduces
    assert ev["metrics"]["rewards/accuracies"] == pytest.approx(res.summary["eval"]["rewards/accuracies"])


def test_a_changed_data_file_is_an_error_not_a_new_split(run, tmp_path):
    root, res = run
    rec = json.loads((res.run_dir / SPLIT_FILE).read_text())
    src = root / "pairs.jsonl"
    original = src.read_text()
    lines = original.splitlines()
    row = json.loads(lines[rec["rows"][0]])
    row["chosen"] += " (edited)"
    lines[rec["rows"][0]] = json.dumps(row)
    src.write_text("\n".join(lines) + "\n")
    try:
        reset_accelerate()
        with pytest.raises(DataError, match="changed since training"):
            evaluate(res.run_dir, out_dir=tmp_path / "e")
    finally:
        src.write_text(original)
