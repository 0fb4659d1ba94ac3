"""Heat map of the joint (kernel x divergence) scores as a PNG (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .result import SelectionResult


def score_grid(result: "SelectionResult") -> tuple[list[str], list[str], list[list[float]]]:
    """(kernel labels, divergence labels, scores[k][d]); nan where a candidate is ruled out."""
    def names(table, kind):
        if table is None:
            return [result.fixed.get(kind, "(fixed)")]
        return [r.name for r in table.rows]

    ks, ds = names(result.kernels, "kernel"), names(result.divergences, "divergence")
    lookup = {(p["kernel"], p["divergence"]): p["score"] for p in result.pairs}
    grid = [[lookup.get((k, d), math.nan) for d in ds] for k in ks]
    return ks, ds, grid


def write_heatmap(result: "SelectionResult", path: str | Path) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError as exc:  # pragma: no cover - matplotlib is in the `report` extra
        raise RuntimeError("the selection heat map needs matplotlib: pip install 'dpok-framework[report]'") from exc

    ks, ds, grid = score_grid(result)
    data = np.ma.masked_invalid(np.array(grid, dtype=float))
    fig, ax = plt.subplots(figsize=(1.4 + 1.1 * len(ds), 1.2 + 0.55 * len(ks)), dpi=120)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#d0d0d0")
    im = ax.imshow(data, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(ds)), ds, rotation=35, ha="right")
    ax.set_yticks(range(len(ks)), ks)
    ax.set_xlabel("divergence")
    ax.set_ylabel("kernel")
    for i in range(len(ks)):
        for j in range(len(ds)):
            v = grid[i][j]
            text = "ruled\nout" if math.isnan(v) else f"{v:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="black" if math.isnan(v) or v > 0.6 else "white")
    best = result.pairs[0] if result.pairs else None
    if best is not None and best["kernel"] in ks and best["divergence"] in ds:
        i, j = ks.index(best["kernel"]), ds.index(best["divergence"])
        ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5))
    ax.set_title("dpok selection: joint score (mean rank utility)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
