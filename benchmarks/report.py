"""Aggregate per-run measurements into per-configuration rows, ratios against the targets, and a table."""

from __future__ import annotations

import statistics
from typing import Any

# issue #8 targets
TARGET_SPEEDUP = 1.3  # dpok samples/s over TRL's, equal settings
TARGET_MEMORY = 1.0  # dpok peak memory over TRL's
TARGET_RBF = 0.05  # hybrid RBF step-time overhead over plain DPO
TARGET_HMK = 0.10  # HMK step-time overhead over plain DPO


def aggregate(runs: list[dict[str, Any]], batch_size: int) -> dict[str, dict[str, Any]]:
    """config name -> step time and peak memory over its rounds.

    Each round (run) gives the median of its measured steps; the configuration's step time is the
    best (lowest) round median, the same rule for TRL and dpok. On a shared machine a round that
    coincides with someone else's job is slower for reasons that have nothing to do with the code; the
    minimum over rounds is the standard estimator for that (as in ``timeit``). Every round's median is
    kept in ``round_medians``. Peak memory is the maximum over rounds.
    """
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        row = rows.setdefault(run["name"], {"name": run["name"], "framework": run.get("framework"),
                                            "precompute": run.get("precompute"), "step_s": [], "peak_rss_mb": [],
                                            "peak_cuda_mb": [], "errors": [], "rounds": 0,
                                            "round_medians": []})
        row["rounds"] += 1
        if not run.get("ok", True):
            row["errors"].append(run.get("error"))
            continue
        row["step_s"].extend(run["step_s"])
        row["round_medians"].append(statistics.median(run["step_s"]))
        if run.get("peak_rss_mb") is not None:
            row["peak_rss_mb"].append(run["peak_rss_mb"])
        if run.get("peak_cuda_mb") is not None:
            row["peak_cuda_mb"].append(run["peak_cuda_mb"])
    for row in rows.values():
        steps = row.pop("step_s")
        row["n_steps"] = len(steps)
        row["median_step_s"] = min(row["round_medians"]) if steps else None
        row["min_step_s"] = min(steps) if steps else None
        row["samples_per_s"] = batch_size / row["median_step_s"] if steps else None
        row["peak_rss_mb"] = max(row["peak_rss_mb"]) if row["peak_rss_mb"] else None
        row["peak_cuda_mb"] = max(row["peak_cuda_mb"]) if row["peak_cuda_mb"] else None
    return rows


def _ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def ratios(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """dpok vs TRL (speed-up, memory) for live and precomputed references; feature overheads vs ``dpo``."""
    out: dict[str, Any] = {}
    mem_key = "peak_cuda_mb" if any(r.get("peak_cuda_mb") for r in rows.values()) else "peak_rss_mb"
    for ours, theirs in (("dpo", "trl"), ("dpo-precompute", "trl-precompute")):
        if ours in rows and theirs in rows:
            a, b = rows[ours], rows[theirs]
            speed = _ratio(a["samples_per_s"], b["samples_per_s"])
            mem = _ratio(a[mem_key], b[mem_key])
            out[f"{ours}_vs_{theirs}"] = {
                "speedup": speed, "memory_ratio": mem, "memory": mem_key,
                "speedup_target": TARGET_SPEEDUP, "speedup_met": None if speed is None else speed >= TARGET_SPEEDUP,
                "memory_target": TARGET_MEMORY, "memory_met": None if mem is None else mem <= TARGET_MEMORY}
    base = rows.get("dpo", {}).get("median_step_s")
    overheads = {}
    for name, row in rows.items():
        if row["framework"] != "dpok" or name in ("dpo", "dpo-precompute") or base is None:
            continue
        r = _ratio(row["median_step_s"], base)
        target = {"rbf": TARGET_RBF, "hmk": TARGET_HMK}.get(name)
        overheads[name] = {"overhead": None if r is None else r - 1.0, "target": target,
                           "met": None if (target is None or r is None) else r - 1.0 <= target,
                           "memory_ratio": _ratio(row[mem_key], rows["dpo"][mem_key])}
    if overheads:
        out["overhead_vs_dpo"] = overheads
    return out


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def table(rows: dict[str, dict[str, Any]], rat: dict[str, Any]) -> str:
    mem_key = "peak_cuda_mb" if any(r.get("peak_cuda_mb") for r in rows.values()) else "peak_rss_mb"
    mem_label = "peak CUDA MB" if mem_key == "peak_cuda_mb" else "peak RSS MB"
    base = rows.get("dpo", {}).get("median_step_s")
    lines = [f"{'config':<24} {'steps':>5} {'median s/step':>13} {'samples/s':>10} {mem_label:>12} {'vs dpo':>8}",
             "-" * 77]
    for name, row in rows.items():
        if row["errors"] and row["median_step_s"] is None:
            lines.append(f"{name:<24} FAILED: {row['errors'][0]}")
            continue
        rel = "-" if base is None or row["median_step_s"] is None else f"{row['median_step_s'] / base - 1:+.1%}"
        lines.append(f"{name:<24} {row['n_steps']:>5} {_fmt(row['median_step_s'], '.3f'):>13} "
                     f"{_fmt(row['samples_per_s'], '.2f'):>10} {_fmt(row[mem_key], '.0f'):>12} {rel:>8}")
    lines.append("")
    for key, r in rat.items():
        if key == "overhead_vs_dpo":
            continue
        lines.append(f"{key}: speed-up x{_fmt(r['speedup'], '.2f')} (target >= {r['speedup_target']}: "
                     f"{_verdict(r['speedup_met'])}), memory x{_fmt(r['memory_ratio'], '.2f')} "
                     f"(target <= {r['memory_target']}: {_verdict(r['memory_met'])})")
    for name, r in rat.get("overhead_vs_dpo", {}).items():
        target = "" if r["target"] is None else f" (target <= {r['target']:.0%}: {_verdict(r['met'])})"
        lines.append(f"{name} overhead over dpo: {_fmt(r['overhead'], '+.1%')}{target}, memory "
                     f"x{_fmt(r['memory_ratio'], '.2f')}")
    return "\n".join(lines)


def _verdict(met) -> str:
    return "n/a" if met is None else ("met" if met else "MISSED")
