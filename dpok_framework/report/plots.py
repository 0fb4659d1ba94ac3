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


# HMK's hierarchy (dpok-kernels): level 1 = the groups, level 2 = the members of each group
HMK_LEVELS: dict[str, tuple[str, ...]] = {"local": ("rbf", "polynomial"), "global": ("spectral", "mahalanobis")}


def kernel_weight_panels(records: list[dict[str, Any]], path: Path, prefix: str = "kernel/weights/"
                         ) -> Path | None:
    """Mixture weights over training, one panel per hierarchy level.

    HMK logs effective member weights (``rbf`` = tau_local * a_rbf, ...) and the group weights ``local`` /
    ``global``: panel 1 shows (tau_local, tau_global), then one panel per group with the members' shares
    within it (a = effective / tau, summing to 1). Any other mixture: one panel of its weights. Each legend
    entry gives the first and last value, so a small move is readable even when the lines look flat.
    """
    names = [k[len(prefix):] for k in metric_keys(records) if k.startswith(prefix)]
    if not names:
        return None
    hier = set(HMK_LEVELS) <= set(names) and all(m in names for ms in HMK_LEVELS.values() for m in ms)

    def train_series(name: str) -> tuple[list[int], list[float]]:
        return series(records, prefix + name, "train")

    panels: list[tuple[str, list[tuple[str, list[int], list[float]]]]] = []
    if hier:
        groups = list(HMK_LEVELS)
        panels.append(("level 1: group weights tau", [(g, *train_series(g)) for g in groups]))
        for g in groups:
            gs, gv = train_series(g)
            tau = dict(zip(gs, gv))
            lines = []
            for m in HMK_LEVELS[g]:
                ms, mv = train_series(m)
                pts = [(s, v / tau[s]) for s, v in zip(ms, mv) if tau.get(s, 0) > 0]
                lines.append((m, [s for s, _ in pts], [v for _, v in pts]))
            panels.append((f"level 2: members of the {g} group (share a, sums to 1)", lines))
    else:
        panels.append(("mixture weights", [(n, *train_series(n)) for n in names]))
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)), squeeze=False)
    for ax, (title, lines) in zip(axes[:, 0], panels):
        for name, steps, vals in lines:
            if steps:
                ax.plot(steps, vals, "-", marker="o" if len(steps) < 30 else None, markersize=3,
                        label=f"{name}: {vals[0]:.4f} -> {vals[-1]:.4f}")
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("optimizer step", fontsize=10)
        ax.set_ylabel("weight", fontsize=10)
        ax.tick_params(labelsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9, loc="best")
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
    a1.set_ylabel("accuracy")
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3)
    a2.bar(steps, [p.gap for p in points], width=max(1.0, (max(steps) - min(steps)) / (3 * len(steps) or 1)))
    a2.axhline(0, color="k", lw=0.8)
    a2.set_title("generalisation gap (train - held-out accuracy)")
    a2.set_xlabel("step")
    a2.set_ylabel("gap (accuracy points)")
    a2.grid(alpha=0.3)
    return _save(fig, path)


def htsr_plot(comparison: dict[str, Any], path: Path) -> Path | None:
    """Per-layer weighted alpha of policy vs reference (bars), overall means in the title."""
    rows = comparison.get("layers") or []
    if not rows:
        return None
    names = _short_layer_names([r["name"] for r in rows])
    pol = [r["alpha_weighted/policy"] for r in rows]
    ref = [r.get("alpha_weighted/reference") for r in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(9.0, 0.32 * len(rows) + 3), 6.0))
    w = 0.4
    ax.bar([i - w / 2 for i in x], pol, width=w, label="policy")
    if any(v is not None for v in ref):
        ax.bar([i + w / 2 for i in x], [v if v is not None else 0.0 for v in ref], width=w, label="reference")
    ax.set_ylabel("weighted alpha = alpha * log10(lambda_max)", fontsize=11)
    p_all = comparison["policy"]["alpha_weighted"]
    r_all = (comparison.get("reference") or {}).get("alpha_weighted")
    title = f"weighted alpha per layer (policy mean {p_all:.3f}"
    title += f", reference mean {r_all:.3f})" if r_all is not None else ")"
    ax.set_title(title, fontsize=12)
    ax.tick_params(axis="y", labelsize=10)
    if len(rows) <= 60:
        ax.set_xticks(list(x))
        ax.set_xticklabels(names, rotation=60, ha="right", fontsize=9)
        ax.set_xlabel("layer", fontsize=11)
    else:  # e.g. SmolLM2: 30 blocks x 7 matrices; one tick per block, at its first matrix
        blocks = [n.split(".", 1)[0] for n in names]
        starts = [i for i, b in enumerate(blocks) if i == 0 or b != blocks[i - 1]]
        step = max(1, len(starts) // 40)
        ax.set_xticks(starts[::step])
        ax.set_xticklabels([blocks[i] for i in starts[::step]], fontsize=9)
        ax.set_xlabel("block (its weight matrices in order, left to right)", fontsize=11)
    ax.legend(fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def _short_layer_names(names: list[str]) -> list[str]:
    """Drop the dotted prefix every name shares (``model.layers.``) and ``.weight``, so ticks stay short."""
    parts = [n.split(".") for n in names]
    common = 0
    while parts and all(len(p) > common + 1 for p in parts) and len({p[common] for p in parts}) == 1:
        common += 1
    return [".".join(p[common:]).removesuffix(".weight") for p in parts]
