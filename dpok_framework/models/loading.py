"""Load the policy, its frozen reference and the tokenizer described by the ``model:`` section."""

from __future__ import annotations

import copy
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config.model import ModelConfig
from ..errors import ConfigError
from .builtin import cache_root, convert_gguf, is_builtin, resolve_builtin

logger = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class LoadedModels:
    """``reference`` is None when LoRA is on (the reference is the base model, adapter disabled)."""

    policy: Any
    reference: Any | None
    tokenizer: Any
    source: Path


def resolve_model_dir(path: str, gguf_file: str | None = None) -> Path:
    """Local directory holding a plain (safetensors/bin) Hugging Face model for ``path``."""
    if is_builtin(path):
        if gguf_file is not None:
            raise ConfigError("model.gguf_file: builtin models know their own GGUF file; remove model.gguf_file")
        return resolve_builtin(path)
    local = Path(path).expanduser()
    if not local.is_dir():
        raise ConfigError(f"model.path: {path!r} is not a local directory (downloads are not attempted; "
                          "use a saved model directory or `builtin:smollm2-135m-instruct`)")
    if gguf_file is None:
        if not (local / "config.json").is_file():
            raise ConfigError(f"model.path: {local} has no config.json; is it a Hugging Face model directory? "
                              "(for a GGUF file set model.gguf_file)")
        return local
    gguf = local / gguf_file
    if not gguf.is_file():
        raise ConfigError(f"model.gguf_file: {gguf} does not exist")
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    out = cache_root() / "models" / f"gguf-{gguf.stem}-{key}"
    if (out / "config.json").is_file():
        return out
    return convert_gguf(gguf, out)


def load_tokenizer(model_dir: Path, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    if tok.pad_token_id is None:
        if tok.eos_token_id is None:
            raise ConfigError(f"tokenizer of {model_dir} has neither a pad nor an eos token; add a pad token")
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(model_dir: Path | str, dtype: str = "float32", trust_remote_code: bool = False):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=DTYPES[dtype], trust_remote_code=trust_remote_code)


def apply_lora(model, lora_cfg):
    try:
        from peft import LoraConfig as PeftLoraConfig, get_peft_model
    except ImportError:
        raise ConfigError("model.lora needs the `peft` package: pip install 'dpok-framework[peft]'") from None
    cfg = PeftLoraConfig(r=lora_cfg.r, lora_alpha=lora_cfg.alpha, lora_dropout=lora_cfg.dropout,
                         target_modules=lora_cfg.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)


def freeze(model):
    model.eval()
    model.requires_grad_(False)
    return model


def load_models(cfg: ModelConfig, gradient_checkpointing: bool = False) -> LoadedModels:
    """Policy (trainable), reference (frozen copy, separate path, or None under LoRA) and tokenizer."""
    model_dir = resolve_model_dir(cfg.path, cfg.gguf_file)
    tokenizer = load_tokenizer(model_dir, cfg.trust_remote_code)
    policy = load_causal_lm(model_dir, cfg.dtype, cfg.trust_remote_code)
    reference = None
    if cfg.lora is None:
        if cfg.reference is not None:
            reference = freeze(load_causal_lm(resolve_model_dir(cfg.reference), cfg.dtype, cfg.trust_remote_code))
        else:
            reference = freeze(copy.deepcopy(policy))
    if gradient_checkpointing:
        policy.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        policy.config.use_cache = False
    if cfg.lora is not None:
        policy = apply_lora(policy, cfg.lora)
    policy.train()
    return LoadedModels(policy, reference, tokenizer, model_dir)
