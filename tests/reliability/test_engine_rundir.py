"""Issue cases 1-8 through the engine and the CLI on a tiny Llama: each test reproduces a failure of the
engine before this work (named in its comment) and checks the fixed behaviour end to end."""

from __future__ import annotations

import json
import math
import os
import pickle

import pytest
import torch
import yaml
from click.testing import CliRunner
from safetensors.torch import load_file

from dpok_framework.cli.main import cli
from dpok_framework.config import config_from_dict
from dpok_framework.engine import Engine, latest_checkpoint, read_metrics
from dpok_framework.errors import ConfigError, DataError
from dpok_framework.rundir import MARKER, RunLock, RunLockedError
from dpok_framework.rundir.finite import NonFiniteWeightsError
from engine.tiny import reset_accelerate, run_config, save_tiny_model, train_until_killed, write_pairs


def _config(tmp, model, pairs, data=None, **sections):
    """``run_config`` with ``data`` fields merged too (its third argument is the pair file)."""
    cfg = run_config(tmp, model, pairs, **sections)
    if data:
        dump = cfg.model_dump(mode="json")
        dump["data"].update(data)
        cfg = config_from_dict(dump)
    return cfg


def _files(run_dir) -> dict[str, bytes]:
    """Every file under ``run_dir`` (but the lock) with its bytes: to prove nothing changed."""
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.name != ".dpok.lock"}


def _strict_load(path):
    def refuse(token):
        raise AssertionError(f"{path.name} holds the non-JSON token {token}")
    return json.loads(path.read_text(), parse_constant=refuse)


class Planted:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


# --- case 1 ------------------------------------------------------------------------------------------------


def test_case1_overwrite_leaves_nothing_of_the_previous_run(tmp_path, tiny_model_dir, monkeypatch):
    # before: eval/, report/, selection/ survived and train.log was appended to, so `dpok report` mixed runs;
    # also: skipped rows were only logged, summary.json could hold bare NaN, model/ was created 0700
    data = write_pairs(tmp_path / "pairs.jsonl", n=24)
    with open(data, "a") as fh:
        fh.write('{"prompt": "Q?", "chosen": "a" "rejected": "b"}\n')  # malformed line: skipped and counted
    cfg = _config(tmp_path, tiny_model_dir, data, data={"on_invalid": "skip"},
                  training={"max_steps": 2, "save_steps": 2})
    old_umask = os.umask(0o022)
    try:
        first = Engine(cfg).train()
    finally:
        os.umask(old_umask)
    run = first.run_dir
    assert (run / "model").stat().st_mode & 0o777 == 0o755
    ckpt = latest_checkpoint(run)
    for name in ("plugins.json", "summary.json", "config.yaml", "metrics.jsonl", "model/model.safetensors",
                 f"checkpoints/{ckpt.name}/model.safetensors", f"checkpoints/{ckpt.name}/optimizer.json"):
        assert (run / name).stat().st_mode & 0o777 == 0o644, name  # mkstemp / safetensors would give 0600
    assert ckpt.stat().st_mode & 0o777 == 0o755
    summary = _strict_load(run / "summary.json")
    assert summary["skipped_rows"] == 1 and summary["identical_after_truncation"] == 0
    for d, f in (("eval", "eval.json"), ("report", "index.html"), ("selection", "selection.json")):
        (run / d).mkdir()
        (run / d / f).write_text("previous run")
    with open(run / "train.log", "a") as fh:
        fh.write("PREVIOUS-RUN\n")
    (run / "notes.txt").write_text("mine")

    from dpok_framework.training import loop as loop_mod

    real_final = loop_mod.StepLoop.final_evaluation
    monkeypatch.setattr(loop_mod.StepLoop, "final_evaluation",
                        lambda self: {**real_final(self), "mean_margin": float("nan")})
    reset_accelerate()
    cfg2 = _config(tmp_path, tiny_model_dir, data, data={"on_invalid": "skip"}, training={"max_steps": 1},
                      output={"dir": str(run), "overwrite": True})
    Engine(cfg2).train()
    assert not any((run / d).exists() for d in ("eval", "report", "selection"))
    assert "PREVIOUS-RUN" not in (run / "train.log").read_text()
    assert (run / "notes.txt").read_text() == "mine"
    summary = _strict_load(run / "summary.json")
    assert summary["global_step"] == 1 and summary["mean_margin"] is None  # NaN written as null


def test_case1_output_dir_dot_never_deletes_the_working_directorys_files(tmp_path, tiny_model_dir, pairs_file,
                                                                          monkeypatch):
    # before: `output.dir: ""` resolved to the working directory and overwrite deleted ./model/ there
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_text("precious")
    monkeypatch.chdir(tmp_path)
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, output={"dir": ".", "overwrite": True})
    with pytest.raises(ConfigError, match="is not a dpok run directory"):
        Engine(cfg).train()
    assert (tmp_path / "model" / "weights.bin").read_text() == "precious"
    res = CliRunner().invoke(cli, ["train", "--set", f"model.path={tiny_model_dir}", "--set", "output.dir=",
                                   "--set", "output.overwrite=true"])
    assert res.exit_code == 2 and "output.dir" in res.output and "must name a run directory" in res.output


def test_case1_privacy_ledger_survives_an_overwrite_and_the_spend_is_reported(tmp_path, tiny_model_dir, pairs_file):
    # before: overwrite deleted privacy.json and released again on the same data with no record of the first
    privacy = {"wrapper": "dp_covariance", "epsilon": 1.0, "delta": 1e-3}
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, kernel={"name": "mahalanobis", "gamma": 0.5},
                     training={"max_steps": 1}, privacy=privacy)
    first = Engine(cfg).train()
    eps = first.summary["privacy"]["epsilon_spent"]
    assert 0.99 <= eps <= 1.0 and first.summary["privacy"]["ledger_epsilon_total"] == pytest.approx(eps)
    reset_accelerate()
    again = cfg.model_copy(update={"output": cfg.output.model_copy(update={"overwrite": True})})
    second = Engine(again).train()
    assert second.summary["privacy"]["ledger_epsilon_total"] == pytest.approx(2 * eps)
    lines = (first.run_dir / "privacy_ledger.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["data"] == json.loads(lines[1])["data"]
    assert "more than the budget" in (first.run_dir / "train.log").read_text()


# --- case 2 ------------------------------------------------------------------------------------------------


def test_case2_a_second_run_on_a_locked_directory_is_refused_and_touches_nothing(tmp_path, tiny_model_dir,
                                                                                 pairs_file):
    # before: two `dpok train` into one new directory both passed the emptiness check and mixed their outputs
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file)
    with RunLock(cfg.output.dir):
        with pytest.raises(RunLockedError, match=rf"in use by another dpok run: pid {os.getpid()} on host"):
            Engine(cfg).train()
        assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".dpok.lock"]
    reset_accelerate()
    res = Engine(cfg).train()  # released: the next run proceeds
    assert res.global_step == 4


# --- case 3 ------------------------------------------------------------------------------------------------


def test_case3_resume_refuses_a_changed_config_and_a_finished_run_changes_nothing(tmp_path, tiny_model_dir,
                                                                                  pairs_file):
    # before: --resume with another lr rewrote config.yaml and kept the old schedule; a changed kernel gave a
    # state_dict traceback; resuming a finished run duplicated its final eval record and changed stopped_by
    sections = dict(training={"max_steps": 2, "save_steps": 1})
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, **sections)
    first = Engine(cfg).train()
    before = _files(first.run_dir)
    for change, field in (({"training": {"max_steps": 2, "save_steps": 1, "lr": 0.5}}, "training.lr: 0.001 -> 0.5"),
                          ({"kernel": {"name": "rbf", "gamma": 0.5}}, "kernel.name: None -> 'rbf'"),
                          ({"data": {"train": str(pairs_file) + ".other"}}, "data.train:")):
        reset_accelerate()
        changed = _config(tmp_path, tiny_model_dir, pairs_file, **{**sections, **change})
        with pytest.raises(ConfigError, match="cannot change mid-run") as err:
            Engine(changed, resume=True).train()
        assert field in str(err.value)
        assert _files(first.run_dir) == before
    reset_accelerate()
    again = Engine(cfg, resume=True).train()
    assert again.stopped_by == first.stopped_by and again.global_step == 2
    assert _files(first.run_dir) == before  # nothing written: no second final eval, same summary
    evals = [r for r in read_metrics(first.run_dir / "metrics.jsonl") if r["split"] == "eval"]
    assert len(evals) == 1
    reset_accelerate()
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    res = CliRunner().invoke(cli, ["train", str(path), "--resume", "-q"])
    assert res.exit_code == 0 and "Nothing to do: the run in" in res.output and "already finished" in res.output
    assert _files(first.run_dir) == before


def test_case3_resume_of_a_finished_run_without_checkpoints_says_so(tmp_path, tiny_model_dir, pairs_file):
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 1})  # no save_steps
    first = Engine(cfg).train()
    before = _files(first.run_dir)
    reset_accelerate()
    again = Engine(cfg, resume=True)
    assert again.train().global_step == 1 and again.finished is not None
    assert _files(first.run_dir) == before
    reset_accelerate()
    longer = run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 3})
    with pytest.raises(ConfigError, match="no complete checkpoint"):  # nothing to continue from
        Engine(longer, resume=True).train()


def test_case3_a_failed_start_is_accepted_by_a_rerun_and_by_resume(tmp_path, tiny_model_dir, pairs_file):
    # before: a start that failed on bad data left config.yaml + train.log, and both a plain rerun ("not
    # empty") and --resume ("no complete checkpoint") refused the directory
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "q", "chosen": 1, "rejected": "n"}\n')
    for resume in (False, True):
        reset_accelerate()
        out = {"dir": str(tmp_path / f"run-{resume}")}
        with pytest.raises(DataError, match="bad.jsonl row 0: field 'chosen'"):
            Engine(run_config(tmp_path, tiny_model_dir, bad, output=out)).train()
        log = (tmp_path / f"run-{resume}" / "train.log").read_text()
        assert "run failed: bad.jsonl row 0" in log  # the fatal error is in the run's log
        reset_accelerate()
        res = Engine(run_config(tmp_path, tiny_model_dir, pairs_file, output=out, training={"max_steps": 1}),
                     resume=resume).train()
        assert res.global_step == 1


def test_case3_4_kill_then_resume_with_an_allowed_change_is_bit_identical_and_unpickles_nothing(
        tmp_path, pairs_file, monkeypatch):
    # before: every checkpoint held custom_checkpoint_0.pkl, loaded with weights_only=False (code execution);
    # a torn last line of metrics.jsonl blocked resume with a traceback
    model_dir = save_tiny_model(tmp_path / "tied-model", tie=True)
    sections = dict(kernel={"name": "rbf", "params": {"learnable": True}, "gamma": 0.5},
                    training={"max_steps": 6, "save_steps": 2, "gradient_accumulation_steps": 2, "batch_size": 3,
                              "lr_scheduler": "linear", "warmup_steps": 1, "logging_steps": 1})
    full = Engine(run_config(tmp_path / "a", model_dir, pairs_file, **sections)).train()
    reset_accelerate()
    cfg = run_config(tmp_path / "b", model_dir, pairs_file, **sections)
    # killed during step 4 (after the checkpoints of steps 2 and 3... saved: 2)
    train_until_killed(Engine(cfg), monkeypatch, at_forward=8)
    ckpt = latest_checkpoint(cfg.output.dir)
    assert ckpt.name == "step-00000002"
    for p in ckpt.iterdir():  # no pickle: JSON, safetensors, YAML only
        assert p.suffix in (".json", ".safetensors", ".yaml"), p.name
    marker = tmp_path / "PWNED"
    for name in ("custom_checkpoint_0.pkl", "optimizer.bin", "scheduler.bin", "random_states_0.pkl", "sampler.bin",
                 "pytorch_model.bin", "scaler.pt"):
        (ckpt / name).write_bytes(pickle.dumps(Planted(str(marker))))
    with open(cfg.output.dir + "/metrics.jsonl", "a") as fh:
        fh.write('{"step": 4, "epoch": 0.5, "split": "tra')  # killed mid-write
    reset_accelerate()
    allowed = run_config(tmp_path / "b", model_dir, pairs_file, **{**sections, "training": {
        **sections["training"], "logging_steps": 2, "save_steps": 3, "save_total_limit": 3, "max_time_s": 3600}})
    resumed = Engine(allowed, resume=True).train()
    assert not marker.exists()
    assert resumed.global_step == 6
    a = load_file(str(full.run_dir / "model" / "model.safetensors"))
    b = load_file(str(resumed.run_dir / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert "training.save_steps changed from 2 to 3" in (resumed.run_dir / "train.log").read_text()
    assert yaml.safe_load((resumed.run_dir / "config.yaml").read_text())["training"]["save_steps"] == 3


# --- case 5 and 8 --------------------------------------------------------------------------------------------


def test_case5_8_non_finite_weights_are_never_saved_and_the_cli_fails_with_the_error_in_train_log(
        tmp_path, tiny_model_dir, pairs_file, monkeypatch):
    # before: the finite check ran before optimizer.step(), so inf weights were written to model/ (exit 0) and
    # an inf checkpoint was called "the last good checkpoint"; with -q, train.log stayed empty
    real_step = torch.optim.AdamW.step
    calls = {"n": 0}

    def overflowing_step(self, *a, **k):  # the update of step 3 overflows (finite loss and gradient)
        out = real_step(self, *a, **k)
        calls["n"] += 1
        if calls["n"] == 3:
            with torch.no_grad():
                self.param_groups[0]["params"][0].fill_(math.inf)
        return out

    monkeypatch.setattr(torch.optim.AdamW, "step", overflowing_step)
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 4, "save_steps": 2})
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    res = CliRunner().invoke(cli, ["train", str(path), "-q"])
    assert res.exit_code == 2, res.output
    assert "parameters are not finite after the optimizer update of step 3" in res.output
    run = tmp_path / "run"
    assert "last good checkpoint is" in res.output and "step-00000002" in res.output
    assert not (run / "model").exists() and not (run / "summary.json").exists()
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-00000002"]
    saved = load_file(str(run / "checkpoints" / "step-00000002" / "model.safetensors"))
    assert all(torch.isfinite(t).all() for t in saved.values())
    log = (run / "train.log").read_text()
    assert "INFO" in log and "ERROR" in log and "run failed: the policy's parameters are not finite" in log
    assert isinstance(NonFiniteWeightsError("x"), Exception)


# --- case 7 ------------------------------------------------------------------------------------------------


def test_case7_max_length_above_the_models_position_limit_names_the_field(tmp_path, pairs_file):
    # before: an IndexError inside the position embedding at the first step
    gpt2 = save_tiny_model(tmp_path / "gpt2", arch="gpt2")  # n_positions = 256
    cfg = _config(tmp_path, gpt2, pairs_file, data={"max_length": 300, "max_prompt_length": 32})
    with pytest.raises(ConfigError, match=r"data.max_length \(300\) exceeds the model .*position limit \(256"):
        Engine(cfg).train()
    assert (tmp_path / "run" / MARKER).is_file() and not (tmp_path / "run" / "model").exists()
