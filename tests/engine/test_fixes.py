"""Regression tests: a second Engine in one process with another mixed_precision; one final evaluation when
max_steps is a multiple of eval_steps; a metric added in the objective reaches train rows, eval rows and
``dpok eval``; the public API keeps its old import path."""

from __future__ import annotations

from dpok_framework.engine import Engine, read_metrics
from dpok_framework.evaluation.evaluate import evaluate
from dpok_framework.objective import objective as objective_mod

from .tiny import reset_accelerate, run_config


def test_a_second_engine_in_one_process_may_change_mixed_precision(tmp_path, tiny_model_dir, pairs_file):
    # no reset between the two runs: the Engine itself starts from a clean Accelerate state
    first = Engine(run_config(tmp_path / "a", tiny_model_dir, pairs_file, training={"max_steps": 1})).train()
    second = Engine(run_config(tmp_path / "b", tiny_model_dir, pairs_file,
                               training={"max_steps": 1, "mixed_precision": "bf16"})).train()
    assert first.global_step == second.global_step == 1


def test_the_final_evaluation_is_not_repeated_at_a_multiple_of_eval_steps(tmp_path, tiny_model_dir, pairs_file):
    res = Engine(run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 3, "eval_steps": 3})).train()
    evals = [r["step"] for r in read_metrics(res.run_dir / "metrics.jsonl") if r["split"] == "eval"]
    assert evals == [3]
    assert res.summary["eval"]["loss"] == read_metrics(res.run_dir / "metrics.jsonl")[-1]["loss"]


def test_a_metric_added_in_the_objective_reaches_train_rows_eval_rows_and_dpok_eval(tmp_path, tiny_model_dir,
                                                                                     pairs_file, monkeypatch):
    real_forward = objective_mod.DpoKernelsObjective.forward

    def forward(self, batch, *a, **k):  # the one-module change: a new per-pair metric in the objective
        out = real_forward(self, batch, *a, **k)
        B = batch["row"].shape[0]
        out.metrics["probe/chosen_minus_rejected"] = out.metrics["logps/chosen"] - out.metrics["logps/rejected"]
        assert out.metrics["probe/chosen_minus_rejected"].shape == (B,)
        return out

    monkeypatch.setattr(objective_mod.DpoKernelsObjective, "forward", forward)
    data = tmp_path / "held.jsonl"
    data.write_text("".join(pairs_file.read_text().splitlines(keepends=True)[:6]))
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 2, "eval_steps": 2})
    cfg.data.eval, cfg.data.eval_fraction = str(data), 0.0  # a held-out file, so `dpok eval` finds it
    res = Engine(cfg).train()
    recs = read_metrics(res.run_dir / "metrics.jsonl")
    train, ev = [r for r in recs if r["split"] == "train"], [r for r in recs if r["split"] == "eval"][-1]
    key = "probe/chosen_minus_rejected"
    assert all(key in r for r in train)
    assert abs(ev[key] - (ev["logps/chosen"] - ev["logps/rejected"])) < 1e-5
    reset_accelerate()
    out = evaluate(res.run_dir, batch_size=4, write=False)
    assert abs(out.metrics[key] - ev[key]) < 1e-4


def test_setup_then_train_in_the_recipe_manner(tmp_path, tiny_model_dir, pairs_file):
    engine = Engine(run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 2}))
    session = engine.setup()
    assert session.total_steps == 2 and session.state.global_step == 0 and session.reference.mode == "live"
    assert session.eval_loader is not None and session.optimizer.param_groups[0]["name"] == "policy"
    res = engine.train()  # runs the session built above (no second set-up)
    assert res.global_step == 2 and engine.session is None
