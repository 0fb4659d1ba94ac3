"""What every benchmarked configuration shares: one model directory and one fixed-shape data file.

Data: real text from the bundled HH-RLHF harmless-base subset, stitched so that every pair tokenises
to at least ``prompt_tokens`` prompt tokens and ``completion_tokens`` tokens per answer; dpok's own
``tokenize_pairs`` (``max_prompt_length = prompt_tokens``, ``max_length = prompt + completion``) then cuts
every sequence to exactly the same length, and TRL is given those very token ids (see
:func:`tokenized_pairs`). No padding, identical tokens on both sides, the same work every step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dpok_framework.models.char_tokenizer import char_tokenizer

from .presets import Preset


def build_tiny_model(out: Path, seed: int = 0) -> Path:
    """A random 2-layer Llama (hidden 64) with the character tokenizer, saved as safetensors."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if (out / "config.json").is_file():
        return out
    tok = char_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    LlamaForCausalLM(cfg).save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def build_two_layer_smollm2(out: Path, seed: int = 0) -> Path:
    """SmolLM2-135M's configuration (width 576, 49,152-token vocabulary, tied head) cut to 2 layers, randomly
    initialised, with SmolLM2's tokenizer: the LM head and vocabulary of the real model on a small body."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from dpok_framework.models import load_tokenizer, resolve_model_dir

    if (out / "config.json").is_file():
        return out
    src = resolve_model_dir("builtin:smollm2-135m-instruct")
    cfg = AutoConfig.from_pretrained(src)
    cfg.num_hidden_layers = 2
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(cfg).save_pretrained(out, safe_serialization=True)
    load_tokenizer(src).save_pretrained(out)
    return out


def model_dir(preset: Preset, work: Path) -> Path:
    """Local directory of the preset's model (the random ones are built, a builtin converted once)."""
    if preset.model == "tiny":
        return build_tiny_model(work / "tiny-model")
    if preset.model == "smollm2-2layer":
        return build_two_layer_smollm2(work / "smollm2-2layer")
    from dpok_framework.models import resolve_model_dir

    return resolve_model_dir(preset.model)


def data_config(preset: Preset, data_file: Path) -> dict[str, Any]:
    """The ``data:`` section both frameworks' data comes from."""
    return {"train": str(data_file), "format": "standard", "eval_fraction": 0.0, "max_length": preset.max_length,
            "max_prompt_length": preset.prompt_tokens, "truncation_mode": "keep_end"}


def _grow(texts: list[str], start: int, tokenizer, need: int) -> tuple[str, int]:
    """Concatenate ``texts[start], texts[start+1], ...`` until it has at least ``need`` tokens."""
    out, i = "", start
    while len(tokenizer(out, add_special_tokens=False)["input_ids"]) < need + 2:
        out += texts[i % len(texts)]
        i += 1
    return out, i


def build_data(preset: Preset, tokenizer, out: Path) -> Path:
    """Write ``n_pairs`` fixed-shape pairs (standard JSONL) stitched from the bundled HH-RLHF subset."""
    from dpok_framework.config import config_from_dict
    from dpok_framework.data import load_pairs

    source = load_pairs(config_from_dict({"data": {"eval_fraction": 0.0}}).data, tokenizer).train
    prompts, chosen, rejected = list(source["prompt"]), list(source["chosen"]), list(source["rejected"])
    rows = []
    cursor = 0
    for _ in range(preset.n_pairs()):
        p, cursor = _grow(prompts, cursor, tokenizer, preset.prompt_tokens)
        c, _ = _grow(chosen, cursor, tokenizer, preset.completion_tokens)
        r, _ = _grow(rejected, cursor, tokenizer, preset.completion_tokens)
        rows.append({"prompt": p, "chosen": c, "rejected": r})
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return out


def tokenized_pairs(preset: Preset, tokenizer, data_file: Path):
    """dpok's tokenisation of the data file (the ids both frameworks train on); checks the fixed shape."""
    from dpok_framework.config import config_from_dict
    from dpok_framework.data import load_pairs, tokenize_pairs

    cfg = config_from_dict({"data": data_config(preset, data_file)}).data
    ds = tokenize_pairs(load_pairs(cfg, tokenizer).train, tokenizer, cfg)
    for name, want in (("prompt_input_ids", preset.prompt_tokens), ("chosen_input_ids", preset.completion_tokens),
                       ("rejected_input_ids", preset.completion_tokens)):
        lengths = {len(ids) for ids in ds[name]}
        if lengths != {want}:
            raise RuntimeError(f"benchmark data {data_file}: {name} lengths {sorted(lengths)[:5]}, expected all "
                               f"{want}; the stitched text is too short for this tokenizer")
    return ds
