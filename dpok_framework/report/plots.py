"""PNG figures of a run (matplotlib, Agg backend): training curves, kernel weights, penalties, drift, HT-SR.

Each function writes one PNG and returns its path, or returns None when the run logged nothing to plot
(e.g. no ``kernel/weights/*`` for a single kernel), so the report simply leaves that section out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..evaluation.drift import DriftPoint  # noqa: E402
from ..evaluation.rundir import metric_keys, series  # noqa: E402

DPI = 100


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _panel(ax, records, keys: Sequence[tuple[str, str]], title: str) -> bool:
    """Plot (key, split) series on ``ax``; False if none had data."""
    drawn = False
    for key, split in keys:
        steps, vals = series(records, key, split)
        if not steps:
            continue
        style = "-" if split == "train" else "o--"
        ax.plot(steps, vals, style, label=f"{key} ({split})", markersize=4)
        drawn = True
    ax.set_title(title)
    ax.set_xlabel("step")
    if drawn:
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    else:
        ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="grey")
    return drawn


def training_curves(records: list[dict[str, Any]], path: Path) -> Path | None:
    """2x2 panels: loss, preference accuracy, reward margin, chosen/rejected rewards (train and eval)."""
    panels = [
        ("loss", [("loss", "train"), ("loss", "eval")]),
        ("preference accuracy", [("rewards/accuracies", "train"), ("rewards/accuracies", "eval")]),
        ("reward margin", [("rewards/margins", "train"), ("rewards/margins", "eval")]),
        ("implicit rewards", [("rewards/chosen", "train"), ("rewards/rejected", "train"),
                              ("rewards/chosen", "eval"), ("rewards/rejected", "eval")]),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    drawn = [_panel(ax, records, keys, title) for ax, (title, keys) in zip(axes.ravel(), panels)]
    if not any(drawn):
        plt.close(fig)
        return None
    return _save(fig, path)


def prefixed_curves(records: list[dict[str, Any]], prefix: str, title: str, ylabel: str, path: Path
                    ) -> Path | None:
    """One line per metric whose name starts with ``prefix`` (e.g. ``kernel/weights/``), both splits."""
    keys = [k for k in metric_keys(records) if k.startswith(prefix)]
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for key in keys:
        for split, style in (("train", "-"), ("eval", "o--")):
            steps, vals = series(records, key, split)
            if steps:
                ax.plot(steps, vals, style, label=f"{key[len(prefix):] or key} ({split})", markersize=4)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def drift_plot(points: list[DriftPoint], path: Path, key: str = "rewards/accuracies") -> Path | None:
    if not points:
        return None
    steps = [p.step for p in points]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    a1.plot(steps, [p.train for p in points], "o-", label="train (window mean)")
    a1.plot(steps, [p.eval for p in points], "s--", label="held-out")
    a1.set_title(f"{key}: train vs held-out")
    a1.set_xlabel("step")
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3)
    a2.bar(steps, [p.gap for p in points], width=max(1.0, (max(steps) - min(steps)) / (3 * len(steps) or 1)))
    a2.axhline(0, color="k", lw=0.8)
    a2.set_title("generalisation gap (train - held-out)")
    a2.set_xlabel("step")
    a2.grid(alpha=0.3)
    return _save(fig, path)


def htsr_plot(comparison: dict[str, Any], path: Path) -> Path | None:
    """Per-layer weighted alpha of policy vs reference (bars), overall means in the title."""
    rows = comparison.get("layers") or []
    if not rows:
        return None
    names = [r["name"] for r in rows]
    pol = [r["alpha_weighted/policy"] for r in rows]
    ref = [r.get("alpha_weighted/reference") for r in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(8.0, 0.25 * len(rows) + 3), 4.5))
    w = 0.4
    ax.bar([i - w / 2 for i in x], pol, width=w, label="policy")
    if any(v is not None for v in ref):
        ax.bar([i + w / 2 for i in x], [v if v is not None else 0.0 for v in ref], width=w, label="reference")
    ax.set_ylabel("alpha * log10(lambda_max)")
    p_all = comparison["policy"]["alpha_weighted"]
    r_all = (comparison.get("reference") or {}).get("alpha_weighted")
    title = f"weighted alpha per layer (policy mean {p_all:.3f}"
    title += f", reference mean {r_all:.3f})" if r_all is not None else ")"
    ax.set_title(title)
    if len(rows) <= 40:
        ax.set_xticks(list(x))
        ax.set_xticklabels(names, rotation=90, fontsize=6)
    else:
        ax.set_xlabel("layer index")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)
