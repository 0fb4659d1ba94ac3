"""Heat map of the sweep (rows x columns of :func:`~.table.grid`): colour = difference from the baseline
on the primary metric (diverging, centred on 0), text = the cell's accuracy, difference and verdict."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .table import grid, mark


def write_heatmap(results: dict[str, Any], path: str | Path, metric: str | None = None) -> Path | None:
    """Write the PNG; None when no cell has finished."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    metric = metric or results["metric"]
    rows, cols, cells = grid(results)
    if not rows:
        return None
    has_base = any("vs_baseline" in g for g in cells.values())
    val = np.full((len(rows), len(cols)), np.nan)
    for (r, c), g in cells.items():
        i, j = rows.index(r), cols.index(c)
        val[i, j] = g["vs_baseline"][metric]["diff"] if has_base and "vs_baseline" in g else g[metric]["mean"]
    fig, ax = plt.subplots(figsize=(2.5 + 2.2 * len(cols), 1.6 + 0.9 * len(rows)), dpi=110)
    if has_base:
        # at least +-0.25 so a one-pair difference reads pale, not as a strong effect
        span = max(0.25, float(np.nanmax(np.abs(val))) if np.isfinite(val).any() else 0.25)
        cmap, vmin, vmax = matplotlib.colormaps["RdBu"].with_extremes(bad="#d0d0d0"), -span, span
        label = f"{metric}: cell - {results.get('baseline_label') or 'baseline'}"
    else:
        cmap, vmin, vmax = matplotlib.colormaps["viridis"].with_extremes(bad="#d0d0d0"), 0.0, 1.0
        label = metric
    im = ax.imshow(np.ma.masked_invalid(val), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    axes = results["axes"]
    ax.set_xticks(range(len(cols)), cols, fontsize=10)
    ax.set_yticks(range(len(rows)), rows, fontsize=10)
    ax.set_xlabel(axes[1] if len(axes) > 1 else "", fontsize=10)
    ax.set_ylabel(axes[0], fontsize=10)
    for (r, c), g in cells.items():
        i, j = rows.index(r), cols.index(c)
        s = g[metric]
        text = f"{s['mean']:.3f}\n[{s['low']:.2f}, {s['high']:.2f}]"
        if "vs_baseline" in g:
            text += f"\n{g['vs_baseline'][metric]['diff']:+.3f} {mark(g, metric, results['alpha'])}"
        dark = math.isfinite(val[i, j]) and abs(val[i, j] - (vmin + vmax) / 2) > 0.6 * (vmax - vmin) / 2
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    base = next((g for g in results["groups"] if g["baseline"]), None)
    title = f"dpok sweep {results['name']}: {metric} ({results['n_pairs']} held-out pairs)"
    if base is not None:
        title += f"\nbaseline {results['baseline_label']}: {base[metric]['mean']:.3f} " \
                 f"[{base[metric]['low']:.2f}, {base[metric]['high']:.2f}]"
    ax.set_title(title, fontsize=9)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cb.set_label(label, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
