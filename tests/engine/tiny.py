"""Tiny offline fixtures for engine tests: a character-level tokenizer and a 2-layer Llama."""

from __future__ import annotations

import pytest

import json
import random
from pathlib import Path

import torch

from dpok_framework.models.char_tokenizer import char_tokenizer  # noqa: F401  (re-exported)


def tiny_llama(vocab_size: int = 128, seed: int = 0, tie: bool = False):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=tie)
    return LlamaForCausalLM(cfg)


def tiny_gpt2(vocab_size: int = 128, seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=vocab_size, n_embd=32, n_layer=2, n_head=4, n_positions=256,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return GPT2LMHeadModel(cfg)


def save_tiny_model(path: Path, arch: str = "llama", seed: int = 0, tie: bool = False) -> Path:
    model = tiny_llama(seed=seed, tie=tie) if arch == "llama" else tiny_gpt2(seed=seed)
    model.save_pretrained(path, safe_serialization=True)
    char_tokenizer().save_pretrained(path)
    return path


WORDS = "yes no maybe good bad kind rude help harm sure sorry please thanks fine great".split()


def write_pairs(path: Path, n: int = 24, seed: int = 0) -> Path:
    """Standard-format JSONL pairs whose chosen answers are polite and rejected ones rude (learnable)."""
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5)))
            good = "sure, " + " ".join(rng.choice(WORDS[:7]) for _ in range(rng.randint(1, 4)))
            bad = "no. " + " ".join(rng.choice(WORDS[7:]) for _ in range(rng.randint(1, 4)))
            fh.write(json.dumps({"prompt": f"Q{i}: {q}?\nA: ", "chosen": good, "rejected": bad}) + "\n")
    return path


def run_config(tmp: Path, model_dir: Path, data: Path, **sections):
    """A RunConfig for a tiny run; ``sections`` override/extend top-level sections (dicts merged)."""
    from dpok_framework.config import config_from_dict

    base = {
        "model": {"path": str(model_dir)},
        "data": {"train": str(data), "eval_fraction": 0.25, "max_length": 64, "max_prompt_length": 32},
        "training": {"lr": 1e-3, "batch_size": 4, "max_steps": 4, "logging_steps": 1, "lr_scheduler": "constant",
                     "seed": 0},
        "output": {"dir": str(tmp / "run")},
    }
    for k, v in sections.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            base[k] = {**base[k], **v}
        else:
            base[k] = v
    return config_from_dict(base)


def reset_accelerate() -> None:
    from accelerate.state import AcceleratorState, GradientState, PartialState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    PartialState._reset_state()


def _fresh_accelerate_state(monkeypatch, tmp_path):
    """A clean Accelerate state and a private $DPOK_CACHE for each engine-level test."""
    monkeypatch.setenv("DPOK_CACHE", str(tmp_path / "dpok-cache"))
    reset_accelerate()
    yield
    reset_accelerate()


# the same body as an opt-in fixture (request it by name) and as an autouse one (import it into a conftest.py
# or a test module to apply it to every test there)
fresh_accelerate = pytest.fixture(_fresh_accelerate_state, name="fresh_accelerate")
auto_fresh_accelerate = pytest.fixture(_fresh_accelerate_state, autouse=True, name="auto_fresh_accelerate")


class SimulatedKill(RuntimeError):
    """Raised by :func:`train_until_killed` where a real run would be killed."""


def train_until_killed(engine, monkeypatch, at_forward: int) -> None:
    """Run ``engine.train()`` until the ``at_forward``-th call of the objective's forward (evaluation calls
    included) raises in training mode, as a kill mid-step would; the real forward is restored afterwards."""
    from dpok_framework.objective import objective as objective_mod

    real_forward = objective_mod.DpoKernelsObjective.forward
    calls = 0

    def dying_forward(self, *a, **k):
        nonlocal calls
        calls += 1
        if self.training and calls == at_forward:
            raise SimulatedKill("simulated kill")
        return real_forward(self, *a, **k)

    monkeypatch.setattr(objective_mod.DpoKernelsObjective, "forward", dying_forward)
    try:
        with pytest.raises(SimulatedKill):
            engine.train()
    finally:
        monkeypatch.setattr(objective_mod.DpoKernelsObjective, "forward", real_forward)
