"""``dpok sweep collect``: per-cell held-out accuracies with intervals, paired tests against the baseline.

Per finished cell, the per-pair table ``runs/<cell>/eval/pairs.csv`` written by ``dpok eval`` is read back
into :class:`~dpok_framework.evaluation.PairLogps` and turned into per-pair correctness with
:func:`~dpok_framework.evaluation.per_pair_table` (the same formulas as the held-out metrics):

* reward correctness: ``rewards/margins > 0`` (TRL's ``rewards/accuracies``),
* log-prob correctness: ``logps/chosen > logps/rejected`` (the policy itself ranks the chosen answer first).

Cells that differ only in the seed form a *group*. Per group and metric: the mean over seeds with its
spread (sample standard deviation; 0 with one seed) and a percentile bootstrap interval of the accuracy
over the pooled (pair, seed) observations. Against the baseline group, seed by seed on the same pairs:
the difference with a paired bootstrap interval, and an exact McNemar test on the pooled discordant
pairs; the McNemar p-values of all groups are Holm-adjusted (per metric) and the primary metric's
adjusted p-value gives the verdict.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError
from ..evaluation.preference import PairLogps, per_pair_table, preference_metrics
from ..evaluation.rundir import EVAL_DIR, PAIRS_CSV, read_json
from ..evaluation import significance as stats
from .plan import Cell, Plan
from .run import DONE_FILE

METRIC_KEYS = {"rewards/accuracies": "rewards/accuracies", "logps/accuracies": "logps_accuracy/policy"}


def read_pairs(run_dir: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(held-out row ids, {metric: 0/1 correctness}) of one evaluated run directory."""
    path = Path(run_dir) / EVAL_DIR / PAIRS_CSV
    if not path.is_file():
        raise DataError(f"{path} not found: evaluate the run first (dpok eval {run_dir})")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise DataError(f"{path}: no pairs")
    need = ("index", "logps/chosen", "logps/rejected", "ref_logps/chosen", "ref_logps/rejected")
    missing = [k for k in need if k not in rows[0]]
    if missing:
        raise DataError(f"{path}: columns {missing} missing (written by an older dpok eval?)")
    col = lambda k: torch.tensor([float(r[k]) for r in rows], dtype=torch.float64)  # noqa: E731
    idx = torch.tensor([int(float(r["index"])) for r in rows])
    pairs = PairLogps(col("logps/chosen"), col("logps/rejected"), col("ref_logps/chosen"),
                      col("ref_logps/rejected"), index=idx)
    ev = read_json(Path(run_dir) / EVAL_DIR / "eval.json") or {}
    beta = float(ev.get("beta", 0.1))
    table = per_pair_table(pairs, beta)
    correct = {"rewards/accuracies": (table["rewards/margins"] > 0).double().numpy(),
               "logps/accuracies": (table["logps/chosen"] > table["logps/rejected"]).double().numpy()}
    # the same numbers as the aggregate held-out metrics (one definition of correctness)
    agg = preference_metrics(pairs, beta)
    for m, key in METRIC_KEYS.items():
        assert math.isclose(float(correct[m].mean()), agg[key], abs_tol=1e-12), (m, key)
    order = np.argsort(idx.numpy(), kind="stable")
    return idx.numpy()[order], {m: v[order] for m, v in correct.items()}


def _groups(plan: Plan) -> dict[str, list[Cell]]:
    out: dict[str, list[Cell]] = {}
    for c in plan.cells:
        out.setdefault(c.group, []).append(c)
    return out


def collect(plan: Plan) -> dict[str, Any]:
    """The sweep's results as a JSON-ready dict (see module docstring); unfinished cells are listed under
    ``missing`` and left out of the statistics."""
    spec = plan.spec
    level, resamples, alpha = spec.level, spec.resamples, spec.alpha
    finished: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    missing = []
    for c in plan.cells:
        if (Path(c.run_dir) / DONE_FILE).is_file():
            finished[c.name] = read_pairs(c.run_dir)
        else:
            missing.append(c.name)
    ids = None
    for name, (idx, _) in finished.items():
        if ids is None:
            ids = idx
        elif not np.array_equal(ids, idx):
            raise DataError(f"cell {name} was evaluated on other held-out pairs than the others; the "
                            "comparison needs the same pairs (re-run `dpok sweep run`)")
    base_group = plan.baseline_group
    base_cells = {c.seed: c.name for c in plan.cells if c.baseline and c.name in finished}
    groups_out = []
    for group, cells in _groups(plan).items():
        done = [c for c in cells if c.name in finished]
        if not done:
            continue
        first = done[0]
        entry: dict[str, Any] = {"group": group, "labels": first.labels, "baseline": first.baseline,
                                 "cells": [c.name for c in done], "seeds": [c.seed for c in done],
                                 "run_dirs": [c.run_dir for c in done]}
        for m in METRIC_KEYS:
            per_seed = [float(finished[c.name][1][m].mean()) for c in done]
            pooled = np.concatenate([finished[c.name][1][m] for c in done])
            lo, hi = stats.bootstrap_ci(pooled, level, resamples, seed=0)
            entry[m] = {"mean": float(np.mean(per_seed)),
                        "std": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0,
                        "per_seed": per_seed, "low": lo, "high": hi, "n": int(pooled.size)}
        if base_group is not None and group != base_group:
            paired = [c for c in done if c.seed in base_cells]
            if paired:
                entry["vs_baseline"] = {}
                for m in METRIC_KEYS:
                    a = np.concatenate([finished[c.name][1][m] for c in paired])
                    b = np.concatenate([finished[base_cells[c.seed]][1][m] for c in paired])
                    pb = stats.paired_bootstrap(a, b, level, resamples, seed=0)
                    mc = stats.mcnemar_exact(a, b)
                    entry["vs_baseline"][m] = {**pb, "mcnemar": mc.to_json(), "seeds": [c.seed for c in paired]}
        groups_out.append(entry)
    compared = [g for g in groups_out if "vs_baseline" in g]
    for m in METRIC_KEYS:
        adj = stats.holm([g["vs_baseline"][m]["mcnemar"]["p_value"] for g in compared])
        for g, p in zip(compared, adj):
            g["vs_baseline"][m]["p_holm"] = p
    base_label = spec.baseline.label if spec.baseline else "the baseline"
    for g in groups_out:
        if "vs_baseline" in g:
            v = g["vs_baseline"][spec.metric]
            g["verdict"] = stats.verdict(v["diff"], v["p_holm"], alpha, base_label) + \
                f" on {spec.metric} (exact McNemar, Holm over {len(compared)} cells)"
        elif g["baseline"]:
            g["verdict"] = "baseline"
        else:
            g["verdict"] = "no finished baseline cell to compare with"
    return {"name": spec.name, "metric": spec.metric, "alpha": alpha, "level": level, "resamples": resamples,
            "axes": list(spec.axes), "baseline": base_group, "baseline_label": spec.baseline.label
            if spec.baseline else None, "n_pairs": 0 if ids is None else int(ids.size),
            "heldout_rows": [] if ids is None else [int(i) for i in ids], "groups": groups_out,
            "finished": sorted(finished), "missing": missing}
