"""Benchmark TRL's DPOTrainer against the dpok engine, and dpok's features against plain DPO.

    python benchmarks/run.py --preset tiny                                   # seconds, random 2-layer Llama
    python benchmarks/run.py --preset smollm2-512 --json benchmarks/results/smollm2-512-cpu.json

Every run is one configuration in its own fresh child process (a forkserver that has already imported
torch, transformers and trl), so peak memory is per run. Rounds, order, statistic and load flags follow
the method fixed in docs/performance.md: >= 5 rounds of >= 5 measured steps, every configuration once per
round in an order reversed every other round, the median over rounds of the per-round ratio with its
min-max, load recorded per run and loaded rounds flagged (kept). ``--json`` writes the result file; the
tool is the only writer of result files.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shlex
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import assets, report  # noqa: E402
from benchmarks.configs import BenchConfig, all_configs, penalty_names, select  # noqa: E402
from benchmarks.presets import MIN_ROUNDS, MIN_STEPS, PRESETS, Preset  # noqa: E402

PRELOAD = ["torch", "transformers", "accelerate", "datasets", "transformers.models.llama.modeling_llama",
           "trl", "trl.trainer.dpo_trainer", "dpok_framework.engine", "dpok_framework.data", "benchmarks.worker"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--steps", type=int, default=None, help="measured steps per run (default: the preset's, >= 5)")
    p.add_argument("--warmup", type=int, default=None, help="steps excluded first, >= 1 (default: the preset's)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per configuration (default: the "
                                                              "preset's; tiny: 1, smollm2: all cores)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per configuration before it is stopped "
                                                                "and reported as timed out (default: the preset's)")
    p.add_argument("--rounds", type=int, default=None, help="rounds (every configuration once per round, "
                                                            "order reversed in even rounds; default: the preset's)")
    p.add_argument("--smoke", action="store_true", help="allow fewer than 5 rounds / 5 measured steps (the "
                                                        "result is marked smoke: a check that it runs, not a number)")
    p.add_argument("--configs", default=None, help="comma-separated configuration names or groups (all, vs-trl, "
                                                   "features, penalties; -name drops one); default: the preset's")
    p.add_argument("--json", dest="json_path", default=None, help="write results to this JSON file")
    p.add_argument("--isolation", choices=["process", "none"], default="process",
                   help="process: a fresh child per configuration (peak memory per configuration); none: all "
                        "in this process (quick smoke runs; peak memory is then not per configuration)")
    p.add_argument("--work-dir", default=None, help="keep the model/data/caches here (default: a temp dir)")
    p.add_argument("--report", default=None, metavar="JSON", help="re-aggregate and print the table of an "
                                                                  "earlier --json result (runs and writes "
                                                                  "nothing)")
    args = p.parse_args(argv)
    if args.warmup is not None and args.warmup < 1:
        p.error("--warmup must be >= 1: the first step contains set-up")
    if args.steps is not None and args.steps < 1:
        p.error("--steps must be >= 1")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be >= 1")
    if args.rounds is not None and args.rounds < 1:
        p.error("--rounds must be >= 1")
    return args


def check_method(preset: Preset, smoke: bool) -> None:
    """docs/performance.md, method item 1: >= 5 rounds of >= 5 measured steps (memory-only presets excepted)."""
    if smoke or preset.memory_only:
        return
    if preset.rounds < MIN_ROUNDS or preset.steps < MIN_STEPS:
        raise SystemExit(f"--rounds {preset.rounds} / --steps {preset.steps}: the benchmark method needs >= "
                         f"{MIN_ROUNDS} rounds of >= {MIN_STEPS} measured steps (docs/performance.md); "
                         "pass --smoke for a run that only checks the set-up")


def _have_trl() -> bool:
    import importlib.util

    return importlib.util.find_spec("trl") is not None


def schedule(configs: list[BenchConfig], rounds: int) -> list[tuple[int, BenchConfig]]:
    """(round, config): every configuration once per round, listed order in odd rounds, reversed in even ones."""
    out = []
    for r in range(1, rounds + 1):
        out.extend((r, c) for c in (configs if r % 2 == 1 else configs[::-1]))
    return out


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


def _spec(cfg: BenchConfig, preset: Preset, model_dir: Path, data_file: Path, work: Path, i: int,
          rnd: int | None) -> dict[str, Any]:
    from dataclasses import asdict

    cache = work / (f"cache-shared-{cfg.name}" if cfg.shared_cache else f"cache-{i:02d}-{cfg.name}")
    return {"name": cfg.name, "framework": cfg.framework, "precompute": cfg.precompute, "sections": cfg.sections,
            "preset": asdict(preset), "model_dir": str(model_dir), "data_file": str(data_file),
            "cache_dir": str(cache), "round": rnd}


def _stop(proc) -> None:
    proc.terminate()
    proc.join(10)
    if proc.is_alive():
        proc.kill()
        proc.join()


def run_isolated(spec: dict[str, Any], ctx, result_path: Path, timeout: float) -> dict[str, Any]:
    from benchmarks.worker import child_main

    proc = ctx.Process(target=child_main, args=(spec, str(result_path)), name=f"bench-{spec['name']}")
    proc.start()
    try:
        proc.join(timeout)
    except BaseException:  # interrupted (Ctrl-C, SIGTERM): never leave the child running
        _stop(proc)
        raise
    if proc.is_alive():  # e.g. a divergence far too slow for this size: report it, go on with the rest
        _stop(proc)
        return {"ok": False, "name": spec["name"], "error": f"timed out after {timeout:.0f} s (--timeout)"}
    if result_path.is_file():
        return json.loads(result_path.read_text())
    return {"ok": False, "name": spec["name"], "error": f"child process exited with code {proc.exitcode} "
                                                       "before reporting (killed for memory?)"}


def summarise(runs: list[dict[str, Any]], batch_size: int, cpu_count: int, memory_only: bool = False
              ) -> dict[str, Any]:
    rows = report.aggregate(runs, batch_size)
    rat = report.ratios(runs, memory_only)
    loads = report.round_loads(runs, cpu_count)
    return {"configs": rows, "ratios": rat, "round_loads": loads, "table": report.table(rows, rat, loads)}


def rereport(path: str) -> dict[str, Any]:
    """Print the table of a saved result from its raw runs (the file is not touched)."""
    out = json.loads(Path(path).read_text())
    summary = summarise(out["runs"], out["preset"]["batch_size"], out["machine"]["cpu_count"] or 1,
                        bool(out["preset"].get("memory_only")))
    print(summary["table"])
    return {**out, **summary}


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the clean-up of a running child
    if args.report:
        return rereport(args.report)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    preset = PRESETS[args.preset].replace(steps=args.steps, warmup=args.warmup, threads=args.threads,
                                          rounds=args.rounds, timeout_s=args.timeout)
    check_method(preset, args.smoke)
    configs = select(all_configs(penalty_names()), args.configs or preset.configs)
    if not _have_trl() and any(c.framework == "trl" for c in configs):
        print("trl is not installed (pip install 'dpok-framework[bench]'): TRL configurations skipped",
              file=sys.stderr)
        configs = [c for c in configs if c.framework != "trl"]
    command = "python benchmarks/run.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None
                                                                                   else sys.argv[1:]))
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
              f"{preset.warmup} warm-up + {preset.steps} measured steps per run, {preset.rounds} rounds of "
              f"{', '.join(c.name for c in configs)}; set-up {time.monotonic() - t0:.1f} s", flush=True)
        ctx = None
        if args.isolation == "process":
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)

        def execute(spec: dict[str, Any], i: int) -> dict[str, Any]:
            if ctx is not None:
                return run_isolated(spec, ctx, work / f"result-{i:02d}-{spec['name']}.json", preset.timeout_s)
            from benchmarks.worker import run_config

            try:
                return {"ok": True, **run_config(spec)}
            except Exception as exc:  # noqa: BLE001 - reported in the table
                return {"ok": False, "name": spec["name"], "round": spec["round"],
                        "error": f"{type(exc).__name__}: {exc}"}

        warm_runs: list[dict[str, Any]] = []
        planned = schedule(configs, preset.rounds)

        def write(runs: list[dict[str, Any]], complete: bool) -> dict[str, Any]:
            """The result so far; ``complete`` false while rounds are still to run (or when stopped)."""
            machine = machine_info()
            summary = summarise(runs, preset.batch_size, machine["cpu_count"] or 1, preset.memory_only)
            out = {"command": command.strip(), "method": "docs/performance.md (median over rounds of per-round "
                   "ratios)", "smoke": bool(args.smoke), "complete": complete, "runs_planned": len(planned),
                   "runs_done": len(runs), "preset": preset.__dict__, "isolation": args.isolation,
                   "machine": machine, "warm_runs": warm_runs, "runs": runs, **summary}
            if args.json_path:
                _atomic_write(Path(args.json_path), json.dumps(out, indent=2))
            return out

        for cfg in (c for c in configs if c.shared_cache):  # fill the shared cache; not measured
            warm = preset.replace(steps=1, warmup=1)
            spec = {**_spec(cfg, warm, model_dir, data_file, work, 0, None), "name": cfg.name}
            record = execute(spec, 0)
            warm_runs.append(record)
            print(f"[warm-up] {cfg.name:<22} fills its cache: "
                  f"{'ok' if record.get('ok') else 'FAILED ' + str(record.get('error'))}", flush=True)
        runs = []
        for i, (rnd, cfg) in enumerate(planned, start=1):
            spec = _spec(cfg, preset, model_dir, data_file, work, i, rnd)
            t1 = time.monotonic()
            record = {"framework": cfg.framework, "precompute": cfg.precompute, **execute(spec, i), "round": rnd}
            runs.append(record)
            load = (record.get("load_start") or [None])[0]
            status = (f"run median {record['run_median_step_s']:.3f} s/step, load {load}" if record.get("ok")
                      else f"FAILED {record.get('error')}")
            print(f"[r{rnd} {i}] {cfg.name:<22} {status} ({time.monotonic() - t1:.1f} s)", flush=True)
            if args.json_path:  # after every run: a stopped benchmark leaves its finished rounds, marked partial
                write(runs, complete=False)
    out = write(runs, complete=True)
    print()
    print(out["table"])
    if args.json_path:
        print(f"\nwrote {args.json_path}")
    failed = [n for n, r in out["configs"].items() if r["errors"]]
    if failed:
        print(f"\nconfigurations with failed runs: {', '.join(failed)}", file=sys.stderr)
    return out


if __name__ == "__main__":
    result = main()
    sys.exit(1 if any(r["errors"] for r in result["configs"].values()) else 0)
