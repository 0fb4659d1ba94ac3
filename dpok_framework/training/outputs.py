"""The run's final outputs: ``kernel.pt``, ``model/`` (safetensors + tokenizer, atomically) and ``summary.json``."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import torch
from accelerate.utils import DistributedType


def save_outputs(accelerator, objective, tokenizer, config, run_dir: Path, summary: dict) -> None:
    """Every process calls this (gathering sharded weights is a collective); the main process writes."""
    accelerator.wait_for_everyone()
    inner = accelerator.unwrap_model(objective)
    full = gathered_state(accelerator, objective)
    if accelerator.is_main_process:
        if inner.kernel is not None:
            torch.save(sub_state(full, "kernel.") if full is not None else inner.kernel.state_dict(),
                       run_dir / "kernel.pt")
        if config.output.save_model:
            save_model_atomic(inner.policy, tokenizer, run_dir / "model", config.model.lora is not None, accelerator,
                              state_dict=sub_state(full, "policy.") if full is not None else None)
        summary["run_dir"] = str(run_dir)
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    accelerator.wait_for_everyone()


def gathered_state(accelerator, objective) -> dict | None:
    """The objective's full state dict when its parameters are sharded (FSDP, DeepSpeed), else None.

    Must run on every process: under FSDP/ZeRO-3 ``get_state_dict`` all-gathers (onto the main process).
    """
    if accelerator.distributed_type not in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        return None
    return accelerator.get_state_dict(objective)


def sub_state(state: dict, prefix: str) -> dict:
    """Entries of ``state`` under ``prefix`` (e.g. ``policy.``), with the prefix removed."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def save_model_atomic(policy, tokenizer, out: Path, lora: bool, accelerator, state_dict: dict | None = None) -> None:
    """save_pretrained (safetensors) + tokenizer into ``out`` via a temp dir + rename. With LoRA the
    adapter goes to ``out/adapter`` and the merged model to ``out``. ``state_dict``: gathered full
    weights of a sharded policy (see :func:`gathered_state`)."""
    tmp = Path(tempfile.mkdtemp(prefix=".model.tmp-", dir=out.parent))
    try:
        if lora:
            policy.save_pretrained(tmp / "adapter", safe_serialization=True)
            merged = policy.merge_and_unload() if hasattr(policy, "merge_and_unload") else policy
            merged.save_pretrained(tmp, safe_serialization=True)
        else:
            accelerator.unwrap_model(policy).save_pretrained(tmp, safe_serialization=True, state_dict=state_dict)
        tokenizer.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
