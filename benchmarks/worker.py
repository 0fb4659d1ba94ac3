"""Run ONE benchmarked configuration and measure it (called in a fresh child process by run.py).

Step times: a global ``torch.optim`` step post-hook stamps ``time.perf_counter()`` after every optimiser
step, in TRL's Trainer and in the dpok engine alike, so "one step" means the same on both sides:
data loading, forward(s), backward, clipping, the optimiser update and per-step bookkeeping. The first
``warmup`` steps are excluded (step 1 also contains set-up); the median over the rest is the run's
``run_median_step_s``. Peak memory: ``ru_maxrss`` of this process and its increase over the resident
memory at the start of the run (CPU), plus ``torch.cuda.max_memory_allocated`` on a GPU. The load
average is recorded at the start and end of the run (docs/performance.md, method).
"""

from __future__ import annotations

import copy
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2**20


def _current_rss_mb() -> float | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _load() -> list[float] | None:
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def _dpok_config(spec: dict[str, Any], out_dir: Path):
    from dpok_framework.config import config_from_dict

    from .assets import data_config
    from .presets import Preset

    preset = Preset(**spec["preset"])
    base: dict[str, Any] = {
        "model": {"path": spec["model_dir"]},
        "data": data_config(preset, Path(spec["data_file"])),
        "loss": {"name": "sigmoid", "beta": preset.beta},
        "training": {"lr": preset.lr, "batch_size": preset.batch_size, "max_steps": preset.warmup + preset.steps,
                     "lr_scheduler": "linear", "warmup_steps": 0, "weight_decay": 0.0, "max_grad_norm": 1.0,
                     "seed": 0, "mixed_precision": "no", "gradient_checkpointing": False,
                     "precompute_ref_log_probs": bool(spec["precompute"]), "logging_steps": 10**6},
        "output": {"dir": str(out_dir / "run"), "overwrite": True, "save_model": False},
    }
    for key, value in spec.get("sections", {}).items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return config_from_dict(base)


def _run_dpok(spec: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    from dpok_framework.engine import Engine

    from dpok_framework.engine import read_metrics

    result = Engine(_dpok_config(spec, out_dir), progress=False).train()
    train = [r for r in read_metrics(result.run_dir / "metrics.jsonl") if r.get("split") == "train"]
    return {"last_logged_loss": train[-1].get("loss") if train else None, "summary_steps": result.global_step}


def _run_trl(spec: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    from dpok_framework.models import load_tokenizer

    from .assets import tokenized_pairs
    from .presets import Preset

    preset = Preset(**spec["preset"])
    model_dir = Path(spec["model_dir"])
    tokenizer = load_tokenizer(model_dir)
    ds = tokenized_pairs(preset, tokenizer, Path(spec["data_file"]))
    ds = ds.select_columns(["prompt_input_ids", "chosen_input_ids", "rejected_input_ids"]).rename_columns(
        {"prompt_input_ids": "prompt_ids", "chosen_input_ids": "chosen_ids", "rejected_input_ids": "rejected_ids"})
    # The very token ids dpok trains on: TRL's own text preparation (tokenisation, EOS, truncation) is
    # bypassed so both sides see identical sequences. Only data preparation is replaced, never training.
    DPOTrainer._prepare_dataset = lambda self, dataset, *args, **kwargs: dataset
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    # reference handling as dpok's: a frozen copy of the policy (live), or none kept with precomputed log-probs.
    # Optimiser: fused AdamW, transformers' default with torch >= 2.8 and what the dpok engine uses.
    ref_model = None if spec["precompute"] else copy.deepcopy(model)
    args = DPOConfig(
        output_dir=str(out_dir / "trl"), per_device_train_batch_size=preset.batch_size,
        per_device_eval_batch_size=preset.batch_size, precompute_ref_batch_size=preset.batch_size,
        gradient_accumulation_steps=1, learning_rate=preset.lr, lr_scheduler_type="linear", warmup_steps=0,
        weight_decay=0.0, max_grad_norm=1.0, optim="adamw_torch_fused", max_steps=preset.warmup + preset.steps,
        beta=preset.beta, loss_type=["sigmoid"], max_length=preset.max_length, truncation_mode="keep_start",
        precompute_ref_log_probs=bool(spec["precompute"]), bf16=False, fp16=False, gradient_checkpointing=False,
        logging_steps=10**6, save_strategy="no", eval_strategy="no", report_to=[], disable_tqdm=True,
        dataloader_num_workers=0, seed=0, data_seed=0,
    )
    trainer = DPOTrainer(model=model, ref_model=ref_model, args=args, train_dataset=ds, processing_class=tokenizer)
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # no end-of-run metrics print in the benchmark output
    out = trainer.train()
    return {"mean_train_loss": float(out.training_loss), "summary_steps": int(out.global_step)}


def run_config(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``spec`` (one configuration) in this process; returns the measurements."""
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    import warnings

    import transformers

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    warnings.simplefilter("ignore")  # deprecation chatter of the libraries under test, not benchmark results
    if spec.get("cache_dir"):
        os.environ["DPOK_CACHE"] = spec["cache_dir"]  # fresh caches: no reference log-probs from other runs
    warmup, steps = spec["preset"]["warmup"], spec["preset"]["steps"]
    if spec["preset"].get("threads"):
        torch.set_num_threads(int(spec["preset"]["threads"]))
    stamps: list[float] = []
    load_start, start_rss = _load(), _current_rss_mb()
    handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: stamps.append(time.perf_counter()))
    t0 = time.perf_counter()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        with tempfile.TemporaryDirectory(prefix="dpok-bench-") as tmp:
            run = _run_trl if spec["framework"] == "trl" else _run_dpok
            extra = run(spec, Path(tmp))
    finally:
        handle.remove()
        _reset_accelerate()
    total = time.perf_counter() - t0
    if len(stamps) != warmup + steps:
        raise RuntimeError(f"{spec['name']}: expected {warmup + steps} optimiser steps, saw {len(stamps)}")
    step_s = [b - a for a, b in zip(stamps[warmup - 1:-1], stamps[warmup:])]  # [steps]
    median = statistics.median(step_s)
    batch = spec["preset"]["batch_size"]
    peak = _peak_rss_mb()
    result = {
        "name": spec["name"], "framework": spec["framework"], "precompute": spec["precompute"],
        "round": spec.get("round"), "step_s": step_s, "run_median_step_s": median,
        "samples_per_s_at_run_median": batch / median,
        "peak_rss_mb": peak, "start_rss_mb": start_rss,
        "train_rss_increase_mb": None if start_rss is None else peak - start_rss,
        "setup_and_first_step_s": stamps[0] - t0, "wall_s": total, "torch_threads": torch.get_num_threads(),
        "load_start": load_start, "load_end": _load(), **extra,
    }
    if torch.cuda.is_available():
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def _reset_accelerate() -> None:
    from accelerate.state import AcceleratorState, GradientState, PartialState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    PartialState._reset_state()


def child_main(spec: dict[str, Any], result_path: str) -> None:
    """Entry point of an isolated child: writes ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``."""
    try:
        record = {"ok": True, **run_config(spec)}
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        record = {"ok": False, "name": spec.get("name"), "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(), "peak_rss_mb": _peak_rss_mb()}
    Path(result_path).write_text(json.dumps(record))
