"""Metrics reach a configured Accelerate tracker (TensorBoard) with the same values as metrics.jsonl, and the
progress bar shows loss and accuracy."""

from __future__ import annotations

import json

import pytest

from dpok_framework.engine import Engine

from .tiny import run_config


def test_report_to_tensorboard_logs_the_jsonl_metrics(tmp_path, tiny_model_dir, pairs_file):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 3, "report_to": ["tensorboard"]})
    # (held-out rows go to eval/<name>: checked below)
    res = Engine(cfg, progress=False).train()
    events = list(res.run_dir.rglob("events.out.tfevents.*"))
    assert events, f"no TensorBoard event file under {res.run_dir}"
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    rows = [json.loads(line) for line in (res.run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3]
    tags = set(acc.Tags()["scalars"])
    for name in ("loss", "rewards/accuracies", "rewards/margins", "logps/chosen", "grad_norm", "learning_rate"):
        tag = f"train/{name}"
        assert tag in tags, sorted(tags)
        logged = {e.step: e.value for e in acc.Scalars(tag)}
        assert sorted(logged) == [1, 2, 3], (tag, logged)
        for r in train:
            assert logged[r["step"]] == pytest.approx(r[name], rel=1e-5, abs=1e-7), (tag, r["step"])
    final_eval = [r for r in rows if r["split"] == "eval"][-1]
    assert {e.step: e.value for e in acc.Scalars("eval/loss")} == {3: pytest.approx(final_eval["loss"], rel=1e-5)}


def test_progress_bar_shows_loss_and_accuracy(tmp_path, tiny_model_dir, pairs_file, capfd):
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 2})
    Engine(cfg, progress=True).train()
    err = capfd.readouterr().err
    assert "dpok train" in err and "2/2" in err
    assert "loss=" in err and "acc=" in err
