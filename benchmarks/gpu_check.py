"""The checks that need a GPU, in one script for the day one is available (issue #15). Not part of the test suite.

    python benchmarks/gpu_check.py [--out DIR] [--budget-s 480]

On ONE CUDA device, within about 8 minutes, it prints one JSON line per result:

1. ``fused_logps``: the chunked completion-only log-probs vs the default model's own forward, fp32 and bf16.
2. ``penalty_agreement``: the explicit KL/JS penalty from final hidden states (HeadLogits) vs full logits.
3. ``bf16_training``: the default model (SmolLM2-135M-Instruct) trained for a few bf16 steps by the engine.
4. ``fsdp``: the engine under Accelerate's FSDP (FSDP2, ``torchrun --nproc_per_node 1``) on a tiny Llama vs the
   same run unsharded (losses per step); Accelerate does not select FSDP on CPU processes.
5. ``penalty_memory``: ``benchmarks/run.py --preset penalty-memory`` (torch.cuda.max_memory_allocated).
6. ``trl_vs_dpok_512``: ``benchmarks/run.py --preset smollm2-512 --configs trl,dpo`` under the fixed method.

Exit status: 1 when any agreement check (1-4) disagrees or fails, else 0; goals (5, 6) are reported with their
verdicts, not enforced. Without CUDA it prints one line saying so and exits 0 having run nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FAILED: list[str] = []


def emit(check: str, ok: bool | None, **fields: Any) -> None:
    """One JSON line; ``ok`` False marks a disagreement (exit 1), None a reported figure."""
    if ok is False:
        FAILED.append(check)
    print(json.dumps({"check": check, "ok": ok, **fields}), flush=True)


def _batch(tokenizer, device, n_pairs: int = 2, prompt: int = 48, completion: int = 48):
    """A collated batch of real text from the bundled data (chosen rows, then rejected)."""
    from dpok_framework.config import config_from_dict
    from dpok_framework.data import PreferenceCollator, load_pairs, tokenize_pairs

    cfg = config_from_dict({"data": {"eval_fraction": 0.0, "max_length": prompt + completion,
                                     "max_prompt_length": prompt}}).data
    ds = tokenize_pairs(load_pairs(cfg, tokenizer).train.select(range(n_pairs)), tokenizer, cfg)
    keep = ["row", "prompt_input_ids", "chosen_input_ids", "rejected_input_ids"]
    batch = PreferenceCollator(tokenizer.pad_token_id)([ds.select_columns(keep)[i] for i in range(n_pairs)])
    return {k: v.to(device) for k, v in batch.items()}


def check_fused_logps(device: str) -> None:
    import torch

    from dpok_framework.objective.fused_logps import completion_logps, split_head
    from dpok_framework.objective.logps import token_logps
    from dpok_framework.models import load_tokenizer, resolve_model_dir
    from transformers import AutoModelForCausalLM

    model_dir = resolve_model_dir("builtin:smollm2-135m-instruct")
    tok = load_tokenizer(model_dir)
    batch = _batch(tok, device)
    for dtype, tol_per_token in ((torch.float32, 1e-4), (torch.bfloat16, 2e-2)):
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
        parts = split_head(model)
        if parts is None:
            emit("fused_logps", False, dtype=str(dtype), error="the default model does not qualify for the fast path")
            continue
        with torch.no_grad():
            fast = completion_logps(*parts, batch)[0].float()  # [2B]
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            mask = batch["completion_mask"][:, 1:].bool() & batch["attention_mask"][:, 1:].bool()
            ref = torch.where(mask, token_logps(logits[:, :-1], batch["input_ids"][:, 1:]), 0.0).sum(-1)
        diff = float((fast - ref.float()).abs().max())
        tol = tol_per_token * float(mask.sum(-1).max()) + 1e-4
        emit("fused_logps", diff <= tol, dtype=str(dtype), max_abs_diff=diff, tolerance=tol,
             completion_tokens=int(mask.sum()))
        del model


def check_penalty_agreement(device: str) -> None:
    import torch
    import torch.nn.functional as F

    from dpok_framework.objective.fused_logps import HeadLogits
    from dpok_framework.objective.penalty import TokenPenalty
    from dpok_framework.registry import get_registry

    g = torch.Generator(device="cpu").manual_seed(0)
    R, T, H, V = 4, 256, 576, 49152
    h = torch.randn(R, T, H, generator=g).to(device)
    w = (torch.randn(V, H, generator=g) / H ** 0.5).to(device)
    h_ref = h + 0.1 * torch.randn(R, T, H, generator=g).to(device)
    mask = torch.zeros(R, T, dtype=torch.bool, device=device)
    mask[:, T // 2:] = True
    for name in ("kl", "js"):
        div = get_registry().build("divergence", name).to(device)
        with torch.no_grad():
            lazy = TokenPenalty(div)(HeadLogits(h, w, None), HeadLogits(h_ref, w, None), mask)
            dense = div(F.log_softmax(F.linear(h, w), -1)[mask], F.log_softmax(F.linear(h_ref, w), -1)[mask]).mean()
        diff = abs(float(lazy) - float(dense))
        emit("penalty_agreement", diff <= 1e-4 * max(1.0, abs(float(dense))), divergence=name,
             chunked=float(lazy), dense=float(dense), abs_diff=diff)


def _engine_config(out: Path, model: str, steps: int, mixed_precision: str, batch_size: int, max_length: int,
                   lr: float = 5e-6):
    from dpok_framework.config import config_from_dict

    return config_from_dict({
        "model": {"path": model},
        "data": {"eval_fraction": 0.0, "max_length": max_length, "max_prompt_length": max_length // 2},
        "loss": {"name": "sigmoid", "beta": 0.1},
        "training": {"lr": lr, "batch_size": batch_size, "max_steps": steps, "logging_steps": 1, "seed": 0,
                     "mixed_precision": mixed_precision, "lr_scheduler": "constant"},
        "output": {"dir": str(out), "overwrite": True, "save_model": False},
    })


def _train_losses(run_dir: Path) -> list[float]:
    from dpok_framework.engine import read_metrics

    return [r["loss"] for r in read_metrics(run_dir / "metrics.jsonl") if r.get("split") == "train"]


def check_bf16_training(out: Path) -> None:
    import math

    import torch

    from dpok_framework.engine import Engine

    torch.cuda.reset_peak_memory_stats()
    t0 = time.monotonic()
    result = Engine(_engine_config(out / "bf16", "builtin:smollm2-135m-instruct", 6, "bf16", 4, 512),
                    progress=False).train()
    losses = _train_losses(result.run_dir)
    ok = len(losses) == 6 and all(math.isfinite(x) for x in losses)
    emit("bf16_training", ok, steps=result.global_step, losses=losses, wall_s=time.monotonic() - t0,
         peak_cuda_mb=torch.cuda.max_memory_allocated() / 2**20)


FSDP_ENV = {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP",
            "FSDP_TRANSFORMER_CLS_TO_WRAP": "LlamaDecoderLayer", "FSDP_RESHARD_AFTER_FORWARD": "true",
            "FSDP_STATE_DICT_TYPE": "FULL_STATE_DICT"}


def fsdp_worker(out: Path) -> None:
    """One engine run on a tiny Llama (entry of ``--fsdp-worker``; FSDP when launched with FSDP_ENV)."""
    from accelerate.state import AcceleratorState

    import dpok_framework.objective.fused_logps as fused
    from dpok_framework.engine import Engine

    from benchmarks.assets import build_tiny_model

    seen = {"fast_path": 0, "fallback": 0}
    split_head = fused.split_head

    def counting(model):
        parts = split_head(model)
        seen["fast_path" if parts is not None else "fallback"] += 1
        return parts

    fused.split_head = counting
    model = build_tiny_model(out.parent / "tiny-model")
    Engine(_engine_config(out, str(model), 4, "no", 4, 64, lr=1e-3), progress=False).train()
    (out / "probe.json").write_text(json.dumps({"distributed_type": str(AcceleratorState().distributed_type),
                                                **seen}))


def check_fsdp(out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in FSDP_ENV}
    runs = {}
    for name, extra, launcher in (("plain", {}, [sys.executable]),
                                  ("fsdp", FSDP_ENV, [sys.executable, "-m", "torch.distributed.run",
                                                      "--nproc_per_node", "1", "--master_port", "29571"])):
        d = out / f"fsdp-{name}"
        proc = subprocess.run(launcher + [str(Path(__file__).resolve()), "--fsdp-worker", str(d)],
                              env={**env, **extra}, capture_output=True, text=True, timeout=240)
        if proc.returncode != 0:
            emit("fsdp", False, run=name, error=proc.stderr[-2000:])
            return
        runs[name] = {"losses": _train_losses(d), **json.loads((d / "probe.json").read_text())}
    a, b = runs["plain"]["losses"], runs["fsdp"]["losses"]
    diff = max(abs(x - y) for x, y in zip(a, b)) if a and len(a) == len(b) else float("inf")
    ok = "FSDP" in runs["fsdp"]["distributed_type"] and diff <= 1e-4
    emit("fsdp", ok, max_abs_loss_diff=diff, plain=runs["plain"], fsdp=runs["fsdp"])


def _bench(args: list[str], json_path: Path, timeout: float) -> dict[str, Any] | None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "run.py"), *args, "--json", str(json_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not json_path.is_file():
        return {"error": proc.stderr[-2000:]}
    return json.loads(json_path.read_text())


def check_penalty_memory(out: Path, timeout: float) -> None:
    res = _bench(["--preset", "penalty-memory"], out / "penalty-memory-gpu.json", timeout)
    if "error" in res:
        emit("penalty_memory", None, error=res["error"])
        return
    r = res["ratios"].get("vs_dpo", {}).get("penalty-kl", {})
    mem = r.get("memory_ratio", {})
    emit("penalty_memory", None, memory_field=res["ratios"].get("memory_field"), ratio=mem.get("median"),
         target=mem.get("target"), met=mem.get("met"),
         peak_cuda_mb={n: c.get("peak_cuda_mb_median") for n, c in res["configs"].items()})


def check_trl_pair(out: Path, timeout: float) -> None:
    res = _bench(["--preset", "smollm2-512", "--configs", "trl,dpo"], out / "smollm2-512-gpu.json", timeout)
    if "error" in res:
        emit("trl_vs_dpok_512", None, error=res["error"])
        return
    r = res["ratios"].get("dpo_vs_trl", {})
    emit("trl_vs_dpok_512", None, speedup=r.get("speedup"), memory_ratio=r.get("memory_ratio"),
         complete=res.get("complete"), round_loads=res.get("round_loads"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks/gpu_check.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="gpu-check", help="directory for run outputs and result files")
    p.add_argument("--budget-s", type=float, default=480.0, help="overall time budget (default 8 minutes)")
    p.add_argument("--fsdp-worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.fsdp_worker:
        fsdp_worker(Path(args.fsdp_worker))
        return 0
    import torch

    if not torch.cuda.is_available():
        emit("cuda", None, available=False, message="no CUDA device: nothing run")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    emit("cuda", None, available=True, device=torch.cuda.get_device_name(0), torch=torch.__version__)
    steps = [("fused_logps", lambda: check_fused_logps("cuda")),
             ("penalty_agreement", lambda: check_penalty_agreement("cuda")),
             ("bf16_training", lambda: check_bf16_training(out)),
             ("fsdp", lambda: check_fsdp(out)),
             ("penalty_memory", lambda: check_penalty_memory(out, max(30.0, args.budget_s - (time.monotonic() - t0)))),
             ("trl_vs_dpok_512", lambda: check_trl_pair(out, max(30.0, args.budget_s - (time.monotonic() - t0))))]
    for name, fn in steps:
        left = args.budget_s - (time.monotonic() - t0)
        if left <= 20:
            emit(name, None, skipped=f"time budget of {args.budget_s:.0f} s spent")
            continue
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - one check failing must not hide the others
            emit(name, False, error=f"{type(exc).__name__}: {exc}")
    emit("summary", not FAILED, failed=FAILED, wall_s=time.monotonic() - t0)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
