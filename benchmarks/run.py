"""Benchmark TRL's DPOTrainer against the dpok engine, and dpok's features against plain DPO, in one run.

    python benchmarks/run.py --preset tiny                      # < 1 minute, random 2-layer Llama
    python benchmarks/run.py --preset smollm2 --json bench.json # the headline numbers (minutes)

Each configuration runs in its own fresh child process (a forkserver that has already imported torch,
transformers and trl, so a child starts in well under a second), so peak memory is per configuration.
The TRL/dpok pairs run interleaved (``--rounds`` times) so a drifting machine load hits both alike.
Prints a table and the ratios against the issue #8 targets; ``--json`` writes everything.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import assets, report  # noqa: E402
from benchmarks.configs import BenchConfig, all_configs, penalty_names, select  # noqa: E402
from benchmarks.presets import PRESETS, Preset  # noqa: E402

PRELOAD = ["torch", "transformers", "accelerate", "datasets", "transformers.models.llama.modeling_llama",
           "trl", "trl.trainer.dpo_trainer", "dpok_framework.engine", "dpok_framework.data", "benchmarks.worker"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--steps", type=int, default=None, help="measured steps per run (default: the preset's)")
    p.add_argument("--warmup", type=int, default=None, help="steps excluded first, >= 1 (default: the preset's)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per configuration (default: the "
                                                              "preset's; tiny: 1, smollm2: all cores)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per configuration before it is stopped "
                                                                "and reported as timed out (default: the preset's)")
    p.add_argument("--rounds", type=int, default=1, help="times the TRL/dpok pairs are repeated, interleaved")
    p.add_argument("--configs", default=None, help="comma-separated configuration names or groups "
                                                   "(vs-trl, features, penalties); default: all")
    p.add_argument("--json", dest="json_path", default=None, help="write results to this JSON file")
    p.add_argument("--isolation", choices=["process", "none"], default="process",
                   help="process: a fresh child per configuration (peak memory per configuration); none: all "
                        "in this process (quick smoke runs; peak memory is then not per configuration)")
    p.add_argument("--work-dir", default=None, help="keep the model/data/caches here (default: a temp dir)")
    p.add_argument("--report", default=None, metavar="JSON", help="re-aggregate and print the table of an "
                                                                  "earlier --json result (runs nothing)")
    args = p.parse_args(argv)
    if args.warmup is not None and args.warmup < 1:
        p.error("--warmup must be >= 1: the first step contains set-up")
    if args.steps is not None and args.steps < 1:
        p.error("--steps must be >= 1")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be >= 1")
    if args.rounds < 1:
        p.error("--rounds must be >= 1")
    return args


def _have_trl() -> bool:
    import importlib.util

    return importlib.util.find_spec("trl") is not None


def schedule(configs: list[BenchConfig], rounds: int) -> list[BenchConfig]:
    """TRL/dpok pairs interleaved ``rounds`` times (trl, dpo, trl-pre, dpo-pre, trl, dpo, ...), then the rest."""
    vs = [c for c in configs if c.group == "vs-trl"]
    rest = [c for c in configs if c.group != "vs-trl"]
    return vs * rounds + rest


def machine_info() -> dict[str, Any]:
    import torch
    import transformers

    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "transformers": transformers.__version__,
            "torch_threads": torch.get_num_threads(), "cuda": None}
    try:
        import trl

        info["trl"] = trl.__version__
    except ImportError:
        info["trl"] = None
    if torch.cuda.is_available():
        info["cuda"] = torch.cuda.get_device_name(0)
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    return info


def _spec(cfg: BenchConfig, preset: Preset, model_dir: Path, data_file: Path, work: Path, i: int) -> dict[str, Any]:
    from dataclasses import asdict

    return {"name": cfg.name, "framework": cfg.framework, "precompute": cfg.precompute, "sections": cfg.sections,
            "preset": asdict(preset), "model_dir": str(model_dir), "data_file": str(data_file),
            "cache_dir": str(work / f"cache-{i:02d}-{cfg.name}")}


def run_isolated(spec: dict[str, Any], ctx, result_path: Path, timeout: float) -> dict[str, Any]:
    from benchmarks.worker import child_main

    proc = ctx.Process(target=child_main, args=(spec, str(result_path)), name=f"bench-{spec['name']}")
    proc.start()
    proc.join(timeout)
    if proc.is_alive():  # e.g. a divergence far too slow for this size: report it, go on with the rest
        proc.terminate()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
        return {"ok": False, "name": spec["name"], "error": f"timed out after {timeout:.0f} s (--timeout)"}
    if result_path.is_file():
        return json.loads(result_path.read_text())
    return {"ok": False, "name": spec["name"], "error": f"child process exited with code {proc.exitcode} "
                                                       "before reporting (killed for memory?)"}


def rereport(path: str) -> dict[str, Any]:
    """Recompute configs/ratios/table of a saved result from its raw per-run measurements."""
    out = json.loads(Path(path).read_text())
    rows = report.aggregate(out["runs"], out["preset"]["batch_size"])
    rat = report.ratios(rows)
    out.update(configs=rows, ratios=rat, table=report.table(rows, rat))
    Path(path).write_text(json.dumps(out, indent=2))
    print(out["table"])
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.report:
        return rereport(args.report)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    preset = PRESETS[args.preset].with_steps(args.steps, args.warmup, args.threads)
    if args.timeout is not None:
        preset = Preset(**{**preset.__dict__, "timeout_s": args.timeout})
    configs = all_configs(penalty_names())
    if not _have_trl():
        print("trl is not installed (pip install 'dpok-framework[bench]'): TRL configurations skipped",
              file=sys.stderr)
        configs = [c for c in configs if c.framework != "trl"]
    if args.configs is None and preset.skip:
        print(f"preset {preset.name} leaves out {', '.join(preset.skip)} (name it in --configs to run it)")
        configs = [c for c in configs if c.name not in preset.skip]
    configs = select(configs, args.configs)
    with tempfile.TemporaryDirectory(prefix="dpok-bench-") as tmp:
        work = Path(args.work_dir) if args.work_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        model_dir = assets.model_dir(preset, work)
        from dpok_framework.models import load_tokenizer

        tokenizer = load_tokenizer(model_dir)
        data_file = assets.build_data(preset, tokenizer, work / f"data-{preset.name}.jsonl")
        assets.tokenized_pairs(preset, tokenizer, data_file)  # fail early if the shape is not fixed
        print(f"preset {preset.name}: model {preset.model} ({model_dir}), {preset.n_pairs()} pairs of "
              f"{preset.prompt_tokens}+{preset.completion_tokens} tokens, batch {preset.batch_size}, "
              f"{preset.warmup} warm-up + {preset.steps} measured steps per run; set-up "
              f"{time.monotonic() - t0:.1f} s", flush=True)
        ctx = None
        if args.isolation == "process":
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
        runs = []
        for i, cfg in enumerate(schedule(configs, args.rounds)):
            spec = _spec(cfg, preset, model_dir, data_file, work, i)
            t1 = time.monotonic()
            if ctx is not None:
                record = run_isolated(spec, ctx, work / f"result-{i:02d}-{cfg.name}.json", preset.timeout_s)
            else:
                from benchmarks.worker import run_config

                try:
                    record = {"ok": True, **run_config(spec), "peak_rss_mb": None}
                except Exception as exc:  # noqa: BLE001 - reported in the table
                    record = {"ok": False, "name": cfg.name, "error": f"{type(exc).__name__}: {exc}"}
            runs.append(record)
            status = (f"median {record['median_step_s']:.3f} s/step" if record.get("ok")
                      else f"FAILED {record.get('error')}")
            print(f"[{i + 1}] {cfg.name:<22} {status} ({time.monotonic() - t1:.1f} s)", flush=True)
    rows = report.aggregate(runs, preset.batch_size)
    rat = report.ratios(rows)
    text = report.table(rows, rat)
    print()
    print(text)
    command = "python benchmarks/run.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None
                                                                                   else sys.argv[1:]))
    out = {"command": command.strip(), "preset": preset.__dict__, "isolation": args.isolation,
           "rounds": args.rounds, "machine": machine_info(), "runs": runs, "configs": rows, "ratios": rat,
           "table": text}
    if args.json_path:
        Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_path).write_text(json.dumps(out, indent=2))
        print(f"\nwrote {args.json_path}")
    failed = [n for n, r in rows.items() if r["median_step_s"] is None]
    if failed:
        print(f"\nfailed configurations: {', '.join(failed)}", file=sys.stderr)
    return out


if __name__ == "__main__":
    result = main()
    sys.exit(1 if any(r["median_step_s"] is None for r in result["configs"].values()) else 0)
