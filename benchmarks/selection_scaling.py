"""Selection cost vs the number of pairs N: scores N triplets of d-dim embeddings with every registered
kernel and every kernel metric, and fits the growth exponent (log time = a + b log N; b ~ 1 is linear).

    .venv/bin/python benchmarks/selection_scaling.py                 # N = 1k, 10k, 100k; d = 768 (approx mode)
    .venv/bin/python benchmarks/selection_scaling.py --exact 500 1000 2000   # the quadratic exact mode, small N
    .venv/bin/python benchmarks/selection_scaling.py --json out.json

Kernels are fitted on at most ``selection.fit_pairs`` (256) pairs, so fitting costs a constant; it is
reported apart from the scoring time (building the evidence + every metric for every kernel), whose
growth exponent is the one that matters.  Total = evidence + fit + scoring.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time

import torch


def triplets(n: int, d: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(n, d, generator=g), dim=-1)
    pos = torch.nn.functional.normalize(x + 0.5 * torch.randn(n, d, generator=g) / math.sqrt(d), dim=-1)
    neg = torch.nn.functional.normalize(x + 0.8 * torch.randn(n, d, generator=g) / math.sqrt(d), dim=-1)
    return x, pos, neg


def time_selection(n: int, d: int, mode: str, repeats: int) -> dict:
    from dpok_framework import get_registry
    from dpok_framework.selection import KernelEvidence, Selector

    registry = get_registry()
    selector = Selector(registry, metrics=[m for m, c in registry.classes("selection_metric").items()
                                           if c.target == "kernel"])
    x, pos, neg = triplets(n, d)
    best: dict | None = None
    for _ in range(repeats):
        start = time.perf_counter()
        ev = KernelEvidence(x, pos, neg, mode=mode)
        t_ev = time.perf_counter() - start
        table = selector.rank("kernel", ev)
        total = time.perf_counter() - start
        fit = sum(r.fit_seconds for r in table.rows)
        row = {"n": n, "d": d, "mode": mode, "seconds": round(total, 4), "evidence_seconds": round(t_ev, 4),
               "fit_seconds": round(fit, 4), "scoring_seconds": round(total - fit, 4),
               "per_kernel": {r.name: round(r.seconds - r.fit_seconds, 4) for r in table.rows},
               "winner": table.best.name if table.best else None}
        if best is None or row["seconds"] < best["seconds"]:
            best = row
    return best


def growth_exponent(rows: list[dict], key: str = "scoring_seconds") -> float:
    xs = [math.log(r["n"]) for r in rows]
    ys = [math.log(r[key]) for r in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sum((a - mx) ** 2 for a in xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", nargs="*", type=int, default=[1_000, 10_000, 100_000])
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--exact", action="store_true", help="time the exact (quadratic) mode instead")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    mode = "exact" if args.exact else "approx"
    rows = []
    for n in args.sizes:
        row = time_selection(n, args.dim, mode, args.repeats)
        rows.append(row)
        kernels = ", ".join(f"{k} {v:.2f}s" for k, v in row["per_kernel"].items())
        print(f"N={n:>7}  d={args.dim}  {mode}: total {row['seconds']:7.2f} s = scoring {row['scoring_seconds']:7.2f} s "
              f"+ kernel fits {row['fit_seconds']:5.2f} s   (scoring per kernel: {kernels})", flush=True)
    b = growth_exponent(rows) if len(rows) > 1 else float("nan")
    print(f"growth exponent of the scoring time (slope of log time vs log N): {b:.2f}  (1 = linear, 2 = quadratic)")
    if args.json:
        info = {"rows": rows, "scoring_exponent": b, "threads": torch.get_num_threads(), "torch": torch.__version__,
                "machine": platform.processor() or platform.machine()}
        with open(args.json, "w") as fh:
            json.dump(info, fh, indent=2)


if __name__ == "__main__":
    main()
