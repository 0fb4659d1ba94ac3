"""Per-configuration rows, per-round ratios and the printed table, under the rule fixed in docs/performance.md:

* a run's statistic is ``run_median_step_s`` (median of its measured steps);
* a comparison's statistic is the MEDIAN OVER ROUNDS of the PER-ROUND ratio, reported with its min and max;
* every round's load is recorded; rounds above ``LOAD_FLAG_PER_CORE x cores`` are flagged, never dropped.
"""

from __future__ import annotations

import statistics
from typing import Any

LOAD_FLAG_PER_CORE = 1.5  # a round is flagged when its largest 1-min load average exceeds this x cores

# (baseline, candidate) -> what the per-round ratio means
SPEEDUP_PAIRS = (("trl", "dpo"), ("trl-precompute", "dpo-precompute"))
TARGET_SPEEDUP = 1.3  # issue #8: dpok samples/s over TRL's (= TRL s/step over dpok s/step)
TARGET_MEMORY_VS_TRL = 1.0  # issue #8: dpok peak memory over TRL's
# issues #8/#15: candidate / dpo step time; issue #15 sets the kernel goals for every embedder
TARGET_STEP_RATIO = {"rbf": 1.05, "hmk": 1.10, "rbf-encoder": 1.05, "hmk-encoder": 1.10, "rbf-encoder-cached": 1.05,
                     "hmk-encoder-cached": 1.10, "penalty-kl": 1.3}
TARGET_MEMORY_RATIO = {"penalty-kl": 1.2}  # issue #15 (penalty-memory preset): candidate / dpo memory


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def memory_key(runs: list[dict[str, Any]]) -> str:
    """``peak_cuda_mb`` on a GPU, else ``train_rss_increase_mb`` (what the configuration itself added)."""
    if any(r.get("peak_cuda_mb") is not None for r in runs if r.get("ok")):
        return "peak_cuda_mb"
    return "train_rss_increase_mb"


def aggregate(runs: list[dict[str, Any]], batch_size: int) -> dict[str, dict[str, Any]]:
    """config name -> medians over its rounds (and min/max of the run medians). Errors are kept."""
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        row = rows.setdefault(run["name"], {"name": run["name"], "framework": run.get("framework"),
                                            "precompute": run.get("precompute"), "runs": 0, "errors": [],
                                            "run_medians_s": [], "peak_rss_mb": [], "train_rss_increase_mb": [],
                                            "peak_cuda_mb": [], "setup_and_first_step_s": []})
        row["runs"] += 1
        if not run.get("ok", True):
            row["errors"].append(run.get("error"))
            continue
        row["run_medians_s"].append(run["run_median_step_s"])
        for key in ("peak_rss_mb", "train_rss_increase_mb", "peak_cuda_mb", "setup_and_first_step_s"):
            row[key].append(run.get(key))
    for row in rows.values():
        meds = row.pop("run_medians_s")
        row["ok_runs"] = len(meds)
        row["run_medians_s"] = meds
        row["median_of_run_medians_s"] = _median(meds)
        row["min_of_run_medians_s"] = min(meds) if meds else None
        row["max_of_run_medians_s"] = max(meds) if meds else None
        m = row["median_of_run_medians_s"]
        row["samples_per_s_at_median"] = None if not m else batch_size / m
        for key in ("peak_rss_mb", "train_rss_increase_mb", "peak_cuda_mb", "setup_and_first_step_s"):
            row[f"{key}_median"] = _median(row.pop(key))
    return rows


def round_loads(runs: list[dict[str, Any]], cpu_count: int) -> list[dict[str, Any]]:
    """Per round: the largest 1-minute load average recorded at any run's start or end, and the flag."""
    limit = LOAD_FLAG_PER_CORE * cpu_count
    by_round: dict[int, list[float]] = {}
    for run in runs:
        r = run.get("round")
        if r is None:
            continue
        vals = by_round.setdefault(r, [])
        for key in ("load_start", "load_end"):
            if run.get(key):
                vals.append(run[key][0])
    return [{"round": r, "round_load_1min_max": max(v) if v else None, "flag_above": limit,
             "loaded": bool(v) and max(v) > limit} for r, v in sorted(by_round.items())]


def _per_round(runs, baseline: str, candidate: str, key: str) -> list[dict[str, Any]]:
    by = {(r.get("round"), r["name"]): r for r in runs if r.get("ok", True) and r.get("round") is not None}
    out = []
    for rnd in sorted({k[0] for k in by}):
        a, b = by.get((rnd, baseline)), by.get((rnd, candidate))
        if a is None or b is None or a.get(key) in (None, 0) or b.get(key) is None:
            continue
        out.append({"round": rnd, "value": b[key] / a[key]})
    return out


def _summary(per_round: list[dict[str, Any]], target: float | None, higher_is_better: bool) -> dict[str, Any]:
    vals = [p["value"] for p in per_round]
    s: dict[str, Any] = {"per_round": per_round, "rounds": len(vals), "median": _median(vals),
                         "min": min(vals) if vals else None, "max": max(vals) if vals else None, "target": target}
    if target is None or not vals:
        s["met"] = s["range_met"] = None
    elif higher_is_better:
        s["met"], s["range_met"] = s["median"] >= target, s["min"] >= target
    else:
        s["met"], s["range_met"] = s["median"] <= target, s["max"] <= target
    return s


def ratios(runs: list[dict[str, Any]], memory_only: bool = False) -> dict[str, Any]:
    """Speed-up of dpok over TRL (TRL s/step / dpok s/step per round) and memory ratio; every other dpok
    configuration's step-time and memory ratio over ``dpo`` (``dpo-precompute`` for precomputed ones).
    Step-time targets apply to timed presets, memory targets to ``memory_only`` ones."""
    mem = memory_key(runs)
    names = list(dict.fromkeys(r["name"] for r in runs))
    out: dict[str, Any] = {"memory_field": mem}
    for base, cand in SPEEDUP_PAIRS:
        if base in names and cand in names:
            speed = [{"round": p["round"], "value": 1.0 / p["value"]}
                     for p in _per_round(runs, base, cand, "run_median_step_s")]
            out[f"{cand}_vs_{base}"] = {
                "speedup": _summary(speed, TARGET_SPEEDUP, True),
                "memory_ratio": _summary(_per_round(runs, base, cand, mem), TARGET_MEMORY_VS_TRL, False)}
    frameworks = {r["name"]: r.get("framework") for r in runs}
    over = {}
    for name in names:
        if frameworks.get(name) != "dpok" or name in ("dpo", "dpo-precompute"):
            continue
        base = "dpo-precompute" if name.endswith("-precompute") else "dpo"
        if base not in names:
            continue
        over[name] = {"baseline": base,
                      "step_time_ratio": _summary(_per_round(runs, base, name, "run_median_step_s"),
                                                  None if memory_only else TARGET_STEP_RATIO.get(name), False),
                      "memory_ratio": _summary(_per_round(runs, base, name, mem),
                                               TARGET_MEMORY_RATIO.get(name) if memory_only else None, False)}
    if over:
        out["vs_dpo"] = over
    return out


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _range(s: dict[str, Any]) -> str:
    return f"x{_fmt(s['median'], '.2f')} [{_fmt(s['min'], '.2f')}-{_fmt(s['max'], '.2f')}]"


def _verdict(s: dict[str, Any], op: str) -> str:
    if s["target"] is None:
        return ""
    if s["met"] is None:
        return f" (target {op} {s['target']}: n/a)"
    word = "met" if s["met"] else "MISSED"
    rng = "whole range" if s["range_met"] else "not the whole range"
    return f" (target {op} {s['target']}: {word}; {rng})"


def table(rows: dict[str, dict[str, Any]], rat: dict[str, Any], loads: list[dict[str, Any]]) -> str:
    mem = rat.get("memory_field", "train_rss_increase_mb")
    mem_label = {"peak_cuda_mb": "peak CUDA MB", "train_rss_increase_mb": "RSS incr MB"}[mem]
    lines = [f"{'config':<22} {'runs':>4} {'s/step median [min-max of run medians]':>40} {'pairs/s':>8} "
             f"{'peak RSS MB':>11} {mem_label:>12}", "-" * 102]
    for name, row in rows.items():
        if row["median_of_run_medians_s"] is None:
            lines.append(f"{name:<22} FAILED: {row['errors'][0] if row['errors'] else 'no runs'}")
            continue
        span = (f"{row['median_of_run_medians_s']:.3f} [{row['min_of_run_medians_s']:.3f}-"
                f"{row['max_of_run_medians_s']:.3f}]")
        failed = f"  ({len(row['errors'])} failed: {row['errors'][0]})" if row["errors"] else ""
        lines.append(f"{name:<22} {row['ok_runs']:>4} {span:>40} {_fmt(row['samples_per_s_at_median'], '.3f'):>8} "
                     f"{_fmt(row['peak_rss_mb_median'], '.0f'):>11} {_fmt(row[mem + '_median'], '.0f'):>12}{failed}")
    lines.append("")
    for key, r in rat.items():
        if key in ("vs_dpo", "memory_field"):
            continue
        lines.append(f"{key}: speed-up {_range(r['speedup'])} over {r['speedup']['rounds']} rounds"
                     f"{_verdict(r['speedup'], '>=')}; memory {_range(r['memory_ratio'])}"
                     f"{_verdict(r['memory_ratio'], '<=')}")
    for name, r in rat.get("vs_dpo", {}).items():
        lines.append(f"{name} / {r['baseline']}: step time {_range(r['step_time_ratio'])}"
                     f"{_verdict(r['step_time_ratio'], '<=')}; memory {_range(r['memory_ratio'])}"
                     f"{_verdict(r['memory_ratio'], '<=')}")
    if loads:
        flagged = [x for x in loads if x["loaded"]]
        lines.append(f"load (1-min, max per round; flagged above {loads[0]['flag_above']:.1f}): "
                     + ", ".join(f"r{x['round']} {_fmt(x['round_load_1min_max'], '.2f')}"
                                 + ("*" if x["loaded"] else "") for x in loads)
                     + f"; {len(flagged)} of {len(loads)} rounds flagged (*), all kept")
    return "\n".join(lines)
