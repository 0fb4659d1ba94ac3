"""Issue case 4: a checkpoint holds no pickle, and loading one never unpickles anything.

The engine-level test (a real run resumed over planted pickles) is in test_engine_rundir.py; here the
state module is exercised on its own with a real Accelerator, optimiser and scheduler.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile

import numpy as np
import pytest
import torch

from dpok_framework.rundir.checkpoint_state import (CheckpointError, load_training_state, save_training_state)


class Planted:
    """Unpickling this writes a marker file: proof that something ran code from a checkpoint."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant(path, marker) -> None:
    path.write_bytes(pickle.dumps(Planted(str(marker))))


def _setup(seed=0):
    from accelerate import Accelerator

    from dpok_framework.training.accelerator import reset_accelerate_state as _reset_accelerate_state

    _reset_accelerate_state()
    torch.manual_seed(seed)
    acc = Accelerator(cpu=True)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + s))
    model, opt = acc.prepare(model, opt)
    return acc, model, opt, sched


def _step(acc, model, opt, sched):
    x = torch.randn(5, 4) + float(np.random.rand()) + random.random()  # every RNG feeds the trajectory
    loss = model(x).pow(2).mean()
    acc.backward(loss)
    opt.step()
    sched.step()
    opt.zero_grad()


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_case4_pickle_free_state_round_trips_bit_identically(tmp_path):
    acc, model, opt, sched = _setup()
    for _ in range(3):
        _step(acc, model, opt, sched)
    save_training_state(acc, tmp_path, model, opt, sched)
    for _ in range(2):
        _step(acc, model, opt, sched)
    expected, lr = _weights(model), sched.get_last_lr()

    acc2, model2, opt2, sched2 = _setup(seed=123)  # different init and RNG: everything must come from disk
    load_training_state(acc2, tmp_path, model2, opt2, sched2)
    for _ in range(2):
        _step(acc2, model2, opt2, sched2)
    got = _weights(model2)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert sched2.get_last_lr() == lr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["model.safetensors", "optimizer.json", "optimizer.safetensors", "rng_state_0.json",
                     "rng_state_0.safetensors", "scheduler.json"]
    for p in tmp_path.iterdir():  # no pickle stream, and no torch zip archive (which holds one)
        data = p.read_bytes()
        assert not data.startswith(b"\x80") and not zipfile.is_zipfile(p), p.name


@pytest.mark.parametrize("victim", ["model.safetensors", "optimizer.json", "optimizer.safetensors", "scheduler.json",
                                    "rng_state_0.json", "rng_state_0.safetensors"])
def test_case4_a_planted_pickle_in_place_of_a_checkpoint_file_is_never_unpickled(tmp_path, victim):
    ckpt, marker = tmp_path / "ckpt", tmp_path / "PWNED"
    ckpt.mkdir()
    acc, model, opt, sched = _setup()
    _step(acc, model, opt, sched)
    save_training_state(acc, ckpt, model, opt, sched)
    plant(ckpt / victim, marker)
    # and where Accelerate's loader would look for its own pickles
    for name in ("custom_checkpoint_0.pkl", "optimizer.bin", "scheduler.bin", "random_states_0.pkl", "sampler.bin",
                 "pytorch_model.bin", "scaler.pt"):
        plant(ckpt / name, marker)
    acc2, model2, opt2, sched2 = _setup()
    with pytest.raises(CheckpointError, match=rf"checkpoint {ckpt}: cannot (read|load) {victim.split('.')[0]}"):
        load_training_state(acc2, ckpt, model2, opt2, sched2)
    assert not marker.exists()
    # the planted pickle really is live: unpickling it would have written the marker
    pickle.loads((ckpt / victim).read_bytes())
    assert marker.exists()
    os.remove(marker)


def test_case4_an_old_accelerate_checkpoint_is_refused_with_a_reason_not_unpickled(tmp_path):
    ckpt, marker = tmp_path / "step-00000002", tmp_path / "PWNED"
    ckpt.mkdir()
    acc, model, opt, sched = _setup()
    from safetensors.torch import save_model

    save_model(model, str(ckpt / "model.safetensors"))  # Accelerate's layout: safetensors weights + pickles
    for name in ("optimizer.bin", "random_states_0.pkl", "custom_checkpoint_0.pkl"):
        plant(ckpt / name, marker)
    with pytest.raises(CheckpointError, match="optimizer.json is missing; it looks like a checkpoint of an older dpok"):
        load_training_state(acc, ckpt, model, opt, sched)
    assert not marker.exists()
