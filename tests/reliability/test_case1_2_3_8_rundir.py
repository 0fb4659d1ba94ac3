"""Issue cases 1, 2, 3 and 8 at the level of the run-directory modules (the engine-level runs are in
test_engine_rundir.py): lock, overwrite, failed starts, resume comparison, strict JSON, modes, ENOSPC."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from dpok_framework.config import config_from_dict
from dpok_framework.errors import ConfigError
from dpok_framework.rundir import (MARKER, PrivacyLedger, RunLock, RunLockedError, check_resume_config,
                                   claim_run_dir, disk_errors, make_temp_dir, prepare_fresh_run, strict_json,
                                   write_json)
from dpok_framework.rundir.files import DiskFullError, apply_umask


def _old_run(path):
    """A finished dpok run as the engine and `dpok eval`/`dpok report` leave it."""
    path.mkdir(parents=True)
    (path / MARKER).write_text("{}")
    (path / "config.yaml").write_text("model: {}\n")
    for d in ("model", "checkpoints/step-00000002", "eval", "report", "selection", "dpok"):
        (path / d).mkdir(parents=True)
    (path / "eval" / "eval.json").write_text('{"margin": 0.416}')
    (path / "summary.json").write_text("{}")
    (path / "metrics.jsonl").write_text('{"step": 1}\n')
    (path / "train.log").write_text("old run\n")
    return path


# --- case 1: overwrite ------------------------------------------------------------------------------------


def test_case1_overwrite_clears_everything_dpok_owns_and_keeps_foreign_files(tmp_path):
    run = _old_run(tmp_path / "run")
    (run / "notes.txt").write_text("mine")
    (run / "privacy_ledger.jsonl").write_text('{"epsilon": 1.0}\n')
    prepare_fresh_run(run, overwrite=True)
    left = sorted(p.name for p in run.iterdir())
    assert left == [MARKER, "notes.txt", "privacy_ledger.jsonl"]  # eval/, report/, train.log... all gone


def test_case1_overwrite_refuses_a_directory_that_is_not_a_dpok_run(tmp_path, monkeypatch):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_text("precious")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"output.dir '.' is not a dpok run directory"):
        prepare_fresh_run(".", overwrite=True)
    assert (tmp_path / "model" / "weights.bin").read_text() == "precious"
    with pytest.raises(ConfigError, match="output.dir: Value error, must name a run directory"):
        config_from_dict({"output": {"dir": ""}})


def test_case1_overwrite_of_the_working_directory_is_refused_even_if_it_looks_like_a_run(tmp_path, monkeypatch):
    run = _old_run(tmp_path / "run")
    monkeypatch.chdir(run)
    with pytest.raises(ConfigError, match="contains the working directory"):
        prepare_fresh_run(".", overwrite=True)
    assert (run / "model").is_dir()


def test_case1_symlinked_entries_are_unlinked_never_followed(tmp_path):
    outside = tmp_path / "elsewhere"
    (outside / "ckpt").mkdir(parents=True)
    (outside / "ckpt" / "keep.bin").write_text("x")
    (outside / "log.txt").write_text("y")
    run = _old_run(tmp_path / "run")
    import shutil

    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").symlink_to(outside / "ckpt", target_is_directory=True)
    (run / "train.log").unlink()
    (run / "train.log").symlink_to(outside / "log.txt")
    prepare_fresh_run(run, overwrite=True)
    assert not (run / "checkpoints").exists() and not (run / "checkpoints").is_symlink()
    assert (outside / "ckpt" / "keep.bin").read_text() == "x" and (outside / "log.txt").read_text() == "y"


def test_case1_privacy_ledger_is_append_only_across_overwrites(tmp_path):
    run = tmp_path / "run"
    prepare_fresh_run(run, overwrite=False)
    PrivacyLedger(run).append("data-A", 1.0, 1e-6, "dp_covariance")
    (run / "model").mkdir()
    prepare_fresh_run(run, overwrite=True)
    ledger = PrivacyLedger(run)
    ledger.append("data-A", 0.5, 1e-6, "dp_covariance")
    ledger.append("data-B", 2.0, 1e-7, "dp_covariance")
    assert ledger.spent_on("data-A") == (1.5, pytest.approx(2e-6))
    assert ledger.spent_on("data-B") == (2.0, 1e-7)
    with open(ledger.path, "a") as fh:  # a line torn by a crash is ignored, earlier ones count
        fh.write('{"data": "data-A", "eps')
    assert ledger.spent_on("data-A")[0] == 1.5


# --- case 2: the lock ---------------------------------------------------------------------------------------


def test_case2_second_lock_is_refused_naming_pid_and_host(tmp_path):
    run = tmp_path / "run"
    with RunLock(run):
        with pytest.raises(RunLockedError, match=rf"in use by another dpok run: pid {os.getpid()} on host "
                                                 rf"{socket.gethostname()}"):
            RunLock(run).acquire()
    with RunLock(run):  # released on exit
        pass


def test_case2_lock_held_by_another_process_and_released_when_it_is_killed(tmp_path):
    run = tmp_path / "run"
    code = textwrap.dedent(f"""
        import sys, time
        from dpok_framework.rundir import RunLock
        RunLock({str(run)!r}).acquire()
        print("locked", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=rf"pid {proc.pid} on host"):
            RunLock(run).acquire()
    finally:
        proc.kill()  # kill -9: the kernel drops the flock, the lock file stays behind
        proc.wait()
    assert json.loads((run / ".dpok.lock").read_text())["pid"] == proc.pid  # a stale record...
    with RunLock(run) as lock:  # ...is taken over
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()


def test_case2_lock_file_does_not_make_a_new_directory_non_empty(tmp_path):
    run = tmp_path / "run"
    with RunLock(run):
        assert claim_run_dir(run, resume=False, overwrite=False, checkpoint=None) is False
    assert (run / MARKER).is_file()


# --- case 3: failed starts and the resume comparison --------------------------------------------------------


def test_case3_a_failed_start_is_accepted_by_a_rerun_and_by_resume(tmp_path):
    run = tmp_path / "run"
    prepare_fresh_run(run, overwrite=False)
    (run / "config.yaml").write_text("model: {}\n")
    (run / "train.log").write_text("ERROR data.train: ...\n")
    assert claim_run_dir(run, resume=True, overwrite=False, checkpoint=None) is False  # starts from step 0
    (run / "config.yaml").write_text("model: {}\n")
    prepare_fresh_run(run, overwrite=False)  # a plain rerun too
    assert sorted(p.name for p in run.iterdir()) == [MARKER]
    (run / "metrics.jsonl").write_text('{"step": 1}\n')  # but a run that trained without checkpoints is not
    with pytest.raises(ConfigError, match="no complete checkpoint"):
        claim_run_dir(run, resume=True, overwrite=False, checkpoint=None)
    with pytest.raises(ConfigError, match="is not empty"):
        prepare_fresh_run(run, overwrite=False)


def test_case3_a_users_config_yaml_is_never_taken_for_a_failed_start(tmp_path):
    run = tmp_path / "proj"
    run.mkdir()
    (run / "config.yaml").write_text("model: {}\ndata: {}\ntraining: {}\noutput: {dir: .}\n")
    with pytest.raises(ConfigError, match="is not empty"):
        prepare_fresh_run(run, overwrite=False)
    assert (run / "config.yaml").is_file()


def test_case3_resume_refuses_changed_fields_and_lists_them():
    stored = config_from_dict({"data": {"train": "a.jsonl"}, "training": {"lr": 1e-5, "max_steps": 10}})
    new = config_from_dict({"data": {"train": "b.jsonl"}, "training": {"lr": 0.5, "max_steps": 20},
                            "kernel": {"name": "rbf", "gamma": 0.5}})
    with pytest.raises(ConfigError) as err:
        check_resume_config(stored, new, "checkpoints/step-00000004")
    msg = str(err.value)
    for line in ("data.train: 'a.jsonl' -> 'b.jsonl'", "training.lr: 1e-05 -> 0.5", "kernel.name: None -> 'rbf'",
                 "kernel.gamma: 0.0 -> 0.5"):
        assert line in msg
    assert "training.max_steps:" not in msg.split("Fields that may change")[0]


def test_case3_resume_accepts_the_allow_listed_changes():
    stored = config_from_dict({"training": {"max_steps": 10, "save_steps": 2, "logging_steps": 1}})
    new = config_from_dict({"training": {"max_steps": 20, "save_steps": 5, "logging_steps": 3, "max_time_s": 60,
                                         "report_to": ["all"]},
                            "output": {"dir": "elsewhere", "overwrite": True}})
    changes = check_resume_config(stored, new)
    assert set(changes) == {"training.max_steps", "training.save_steps", "training.logging_steps",
                            "training.max_time_s", "training.report_to", "output.dir", "output.overwrite"}
    privacy = {"wrapper": "dp_covariance", "epsilon": 1.0, "delta": 1e-6}
    with pytest.raises(ConfigError, match=r"privacy.epsilon: 1.0 -> 2.0"):
        check_resume_config(config_from_dict({"kernel": {"name": "mahalanobis", "gamma": 0.5}, "privacy": privacy}),
                            config_from_dict({"kernel": {"name": "mahalanobis", "gamma": 0.5},
                                              "privacy": {**privacy, "epsilon": 2.0}}))


# --- case 5/8: strict JSON, file modes, ENOSPC --------------------------------------------------------------


def test_case5_strict_json_writes_null_for_non_finite(tmp_path):
    path = tmp_path / "summary.json"
    write_json(path, {"loss": math.nan, "margin": [1.0, math.inf], "n": 3, "nested": {"x": -math.inf}})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"loss": None, "margin": [1.0, None], "n": 3, "nested": {"x": None}}
    import torch

    assert json.loads(strict_json({"t": torch.tensor(float("nan"))})) == {"t": None}


def test_case8_temp_dirs_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        d = make_temp_dir(tmp_path, ".model.tmp-")
        assert (d.stat().st_mode & 0o777) == 0o755  # tempfile.mkdtemp gives 0o700 whatever the umask
        import torch
        from safetensors.torch import save_file

        save_file({"w": torch.zeros(2)}, str(d / "w.safetensors"))  # safetensors creates 0600 ...
        apply_umask(d)
        assert (d / "w.safetensors").stat().st_mode & 0o777 == 0o644  # ... apply_umask gives what open() would
        os.umask(0o077)
        assert (make_temp_dir(tmp_path, ".model.tmp-").stat().st_mode & 0o777) == 0o700
    finally:
        os.umask(old)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_case8_enospc_is_named():
    with pytest.raises(DiskFullError, match=r"no space left on device \(ENOSPC\) while writing /dev/full"):
        with disk_errors("/dev/full"):
            with open("/dev/full", "w") as fh:
                fh.write("x" * 10)
                fh.flush()


def test_case8_an_iostream_error_on_a_full_disk_is_named_enospc(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(100, 100, 0))
    with pytest.raises(DiskFullError, match=r"ENOSPC\) while writing the checkpoint .*basic_ios::clear"):
        with disk_errors(tmp_path / "ckpt", "the checkpoint"):
            raise RuntimeError("basic_ios::clear: iostream error")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(100, 0, 100 * 2**30))
    with pytest.raises(RuntimeError, match="basic_ios"):  # with space left it is not called a full disk
        with disk_errors(tmp_path / "ckpt"):
            raise RuntimeError("basic_ios::clear: iostream error")
