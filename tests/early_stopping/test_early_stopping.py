"""The first-party dpok-early-stopping plugin: the rule, its settings, and a run it stops (entry point)."""

from __future__ import annotations

import pytest
from dpok_early_stopping import EarlyStopping, EarlyStoppingSettings

from dpok_framework.engine import Engine, latest_checkpoint, read_metrics
from dpok_framework.errors import ConfigError


def test_the_rule_counts_evaluations_without_improvement_and_survives_a_checkpoint(tmp_path):
    es = EarlyStopping(EarlyStoppingSettings(metric="loss", mode="min", patience=2, min_delta=0.1))
    assert [es.update(v) for v in (1.0, 0.95, 0.5, 0.45, 0.48)] == [False, False, False, False, True]
    assert es.best == 0.5 and es.bad_evals == 2
    es.save(tmp_path)
    again = EarlyStopping(es.settings)
    again.load(tmp_path)
    assert (again.best, again.bad_evals) == (0.5, 2)
    up = EarlyStopping(EarlyStoppingSettings(metric="rewards/accuracies", mode="max", patience=1))
    assert [up.update(v) for v in (0.5, 0.75, 0.75)] == [False, False, True]


def test_a_run_stops_when_the_held_out_metric_stalls(tmp_path, tiny_model_dir, pairs_file):
    from engine.tiny import run_config

    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 8, "eval_steps": 1, "save_steps": 1},
                     plugins={"early_stopping": {"metric": "loss", "patience": 1, "min_delta": 1e9}})
    res = Engine(cfg).train()  # first eval sets the best; no later one can beat it by 1e9
    assert res.global_step == 2 and res.stopped_by.startswith("hook: early stopping: loss did not improve")
    evals = [r for r in read_metrics(res.run_dir / "metrics.jsonl") if r["split"] == "eval"]
    assert [r["early_stopping/bad_evals"] for r in evals] == [0.0, 1.0]
    assert (latest_checkpoint(res.run_dir) / "early_stopping.json").is_file()


def test_bad_settings_name_the_field(tmp_path, tiny_model_dir, pairs_file):
    from engine.tiny import run_config

    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 2, "eval_steps": 1},
                     plugins={"early_stopping": {"patience": 0}})
    with pytest.raises(ConfigError, match=r"plugins\.early_stopping\.patience"):
        Engine(cfg).train()


def test_a_resumed_run_keeps_counting_evaluations_without_improvement(tmp_path, tiny_model_dir, pairs_file):
    """Run 1 ends at max_steps 2 with 2 evaluations (best set, then 1 bad); the resume (max_steps raised, an
    allowed change) loads the tracker from the checkpoint: bad evals go on 2, 3 and the run stops at step 4.
    A tracker that restarted would count 0, 1, 2 and stop only at step 5."""
    from engine.tiny import reset_accelerate, run_config

    def cfg(max_steps):
        return run_config(tmp_path, tiny_model_dir, pairs_file,
                          training={"max_steps": max_steps, "eval_steps": 1, "save_steps": 1},
                          plugins={"early_stopping": {"metric": "loss", "patience": 3, "min_delta": 1e9}})

    first = Engine(cfg(2)).train()
    assert first.global_step == 2 and first.stopped_by == "max_steps"
    reset_accelerate()
    res = Engine(cfg(8), resume=True).train()
    assert res.global_step == 4 and res.stopped_by.startswith("hook: early stopping: loss did not improve for 3")
    evals = [r for r in read_metrics(res.run_dir / "metrics.jsonl") if r["split"] == "eval"]
    assert [(r["step"], r["early_stopping/bad_evals"]) for r in evals] == [(1, 0.0), (2, 1.0), (3, 2.0), (4, 3.0)]
    assert len({r["early_stopping/best"] for r in evals}) == 1  # the first evaluation's loss, kept across the resume
