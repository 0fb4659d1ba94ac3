"""The sweep table in the paper's form: rows = the first axis (kernels), columns = the second (divergences).

A cell reads ``0.650 [0.550, 0.740] +0.050 n.s.``: the primary metric's mean over seeds, its bootstrap
interval, the difference from the baseline and the verdict mark (``better`` / ``worse`` / ``n.s.``).
Written as Markdown (``table.md``), long-form CSV (``table.csv``, one line per cell group with every
number) and JSON (``results.json``, everything :func:`~.collect.collect` returns).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from .collect import METRIC_KEYS


def grid(results: dict[str, Any]) -> tuple[list[str], list[str], dict[tuple[str, str], dict[str, Any]]]:
    """(row labels, column labels, {(row, column): group}) of the non-baseline groups. More than two axes:
    the extra axes join the row label (``rbf / seed-x``)."""
    axes = results["axes"]
    rows: list[str] = []
    cols: list[str] = []
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for g in results["groups"]:
        if g["baseline"]:
            continue
        labels = g["labels"]
        col = labels[axes[1]] if len(axes) > 1 else axes[0]
        row = " / ".join(labels[a] for a in [axes[0], *axes[2:]])
        if row not in rows:
            rows.append(row)
        if col not in cols:
            cols.append(col)
        cells[(row, col)] = g
    return rows, cols, cells


def mark(group: dict[str, Any], metric: str, alpha: float) -> str:
    """``better`` / ``worse`` (Holm-adjusted McNemar p < alpha) / ``n.s.``; empty without a comparison."""
    v = group.get("vs_baseline", {}).get(metric)
    if v is None:
        return ""
    if v["p_holm"] < alpha:
        return "better" if v["diff"] > 0 else "worse"
    return "n.s."


def _cell_text(g: dict[str, Any], metric: str, alpha: float) -> str:
    s = g[metric]
    text = f"{s['mean']:.3f} [{s['low']:.3f}, {s['high']:.3f}]"
    if len(s["per_seed"]) > 1:
        text += f" ±{s['std']:.3f}"
    v = g.get("vs_baseline", {}).get(metric)
    if v is not None:
        text += f" {v['diff']:+.3f} {mark(g, metric, alpha)}"
    return text


def markdown(results: dict[str, Any], metric: str | None = None) -> str:
    metric = metric or results["metric"]
    rows, cols, cells = grid(results)
    axes = results["axes"]
    alpha = results["alpha"]
    head = axes[0] + (" \\ " + axes[1] if len(axes) > 1 else "")
    lines = [f"**{metric}** on {results['n_pairs']} held-out pairs: mean [{results['level']:.0%} bootstrap "
             f"interval], difference from the baseline, verdict (exact McNemar, Holm-adjusted, alpha "
             f"{alpha:g})", ""]
    base = next((g for g in results["groups"] if g["baseline"]), None)
    if base is not None:
        lines += [f"Baseline **{results['baseline_label']}**: {_cell_text(base, metric, alpha)}", ""]
    lines.append("| " + head + " | " + " | ".join(cols) + " |")
    lines.append("|---" * (len(cols) + 1) + "|")
    for r in rows:
        lines.append(f"| {r} | " + " | ".join(_cell_text(cells[(r, c)], metric, alpha) if (r, c) in cells
                                              else "-" for c in cols) + " |")
    if results["missing"]:
        lines += ["", f"Not finished (left out): {', '.join(results['missing'])}"]
    return "\n".join(lines) + "\n"


CSV_FIELDS = ["group", "baseline", "seeds"]


def csv_text(results: dict[str, Any]) -> str:
    axes = results["axes"]
    fields = CSV_FIELDS + axes
    for m in METRIC_KEYS:
        fields += [f"{m}:mean", f"{m}:std", f"{m}:low", f"{m}:high", f"{m}:diff", f"{m}:diff_low",
                   f"{m}:diff_high", f"{m}:p_bootstrap", f"{m}:mcnemar_n01", f"{m}:mcnemar_n10",
                   f"{m}:p_mcnemar", f"{m}:p_holm"]
    fields.append("verdict")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for g in results["groups"]:
        row: dict[str, Any] = {"group": g["group"], "baseline": g["baseline"],
                               "seeds": " ".join(map(str, g["seeds"])), "verdict": g.get("verdict", "")}
        for a in axes:
            row[a] = g["labels"].get(a, "")
        for m in METRIC_KEYS:
            s = g[m]
            row.update({f"{m}:mean": s["mean"], f"{m}:std": s["std"], f"{m}:low": s["low"], f"{m}:high": s["high"]})
            v = g.get("vs_baseline", {}).get(m)
            if v is not None:
                row.update({f"{m}:diff": v["diff"], f"{m}:diff_low": v["low"], f"{m}:diff_high": v["high"],
                            f"{m}:p_bootstrap": v["p_value"], f"{m}:mcnemar_n01": v["mcnemar"]["n01"],
                            f"{m}:mcnemar_n10": v["mcnemar"]["n10"], f"{m}:p_mcnemar": v["mcnemar"]["p_value"],
                            f"{m}:p_holm": v["p_holm"]})
        w.writerow(row)
    return buf.getvalue()


def write_tables(results: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "table.md", "csv": out / "table.csv", "json": out / "results.json"}
    texts = {"markdown": "".join(markdown(results, m) + "\n" for m in
                                 [results["metric"], *[k for k in METRIC_KEYS if k != results["metric"]]]),
             "csv": csv_text(results), "json": json.dumps(results, indent=2, allow_nan=False) + "\n"}
    for k, p in paths.items():
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(texts[k], encoding="utf-8")
        tmp.replace(p)
    return paths
