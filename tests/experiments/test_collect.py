"""collect / table / heat map on hand-made per-pair results: every number checked against a hand count."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from scipy.stats import binomtest

from dpok_framework.experiments import collect, write_outputs
from dpok_framework.experiments.table import csv_text, grid, markdown

from .synthetic import synthetic_sweep

N = 40
BASE_R = [1] * 20 + [0] * 20                      # baseline: 20/40 reward-correct
GOOD_R = [1] * 20 + [1] * 15 + [0] * 5            # +15 discordant in favour, 0 against: 35/40
SAME_R = [1] * 18 + [0, 0] + [1, 1] + [0] * 18    # 2 vs 2 discordant: 20/40
BAD_R = [1] * 8 + [0] * 32                        # 12 against, 0 in favour: 8/40
LOGPS = [1] * 24 + [0] * 16


def _cells():
    return {"baseline-dpo__seed-0": (BASE_R, [min(r, l) for r, l in zip(BASE_R, LOGPS)]),
            "kernel-rbf__divergence.link-kl__seed-0": (GOOD_R, [min(r, l) for r, l in zip(GOOD_R, LOGPS)]),
            "kernel-rbf__divergence.link-js__seed-0": (SAME_R, [min(r, l) for r, l in zip(SAME_R, LOGPS)]),
            "kernel-hmk__divergence.link-kl__seed-0": (BAD_R, [min(r, l) for r, l in zip(BAD_R, LOGPS)])}


def test_collect_matches_hand_counts(tmp_path):
    plan = synthetic_sweep(tmp_path, _cells())
    res = collect(plan)
    assert res["n_pairs"] == N and res["heldout_rows"] == [10 + 3 * i for i in range(N)]
    assert res["missing"] == ["kernel-hmk__divergence.link-js__seed-0"]
    g = {x["group"]: x for x in res["groups"]}
    assert g["baseline-dpo"]["rewards/accuracies"]["mean"] == 0.5
    good = g["kernel-rbf__divergence.link-kl"]
    assert good["rewards/accuracies"]["mean"] == 35 / 40
    assert good["logps/accuracies"]["mean"] == np.mean([min(r, l) for r, l in zip(GOOD_R, LOGPS)])
    v = good["vs_baseline"]["rewards/accuracies"]
    assert v["diff"] == pytest.approx(15 / 40)
    assert (v["mcnemar"]["n01"], v["mcnemar"]["n10"]) == (15, 0)
    p = {name: binomtest(*k, 0.5).pvalue for name, k in
         (("good", (0, 15)), ("same", (2, 4)), ("bad", (0, 12)))}
    assert v["mcnemar"]["p_value"] == pytest.approx(p["good"])
    # Holm over the three compared cells, by hand: p_good < p_bad < p_same, multiplied by 3, 2, 1
    assert p["good"] < p["bad"] < p["same"]
    holm = {"good": 3 * p["good"], "bad": max(3 * p["good"], 2 * p["bad"]), "same": p["same"]}
    assert v["p_holm"] == pytest.approx(holm["good"])
    assert g["kernel-rbf__divergence.link-js"]["vs_baseline"]["rewards/accuracies"]["p_holm"] == \
        pytest.approx(holm["same"])
    assert g["kernel-hmk__divergence.link-kl"]["vs_baseline"]["rewards/accuracies"]["p_holm"] == \
        pytest.approx(holm["bad"])
    assert good["verdict"].startswith("better than dpo")
    assert g["kernel-rbf__divergence.link-js"]["verdict"].startswith("not distinguishable from dpo")
    assert g["kernel-hmk__divergence.link-kl"]["verdict"].startswith("worse than dpo")
    lo, hi = good["rewards/accuracies"]["low"], good["rewards/accuracies"]["high"]
    assert lo < 35 / 40 < hi and hi - lo < 0.3


def test_tables_and_outputs(tmp_path):
    plan = synthetic_sweep(tmp_path, _cells())
    out = write_outputs(plan, embed_images=False)
    res = out["results"]
    rows, cols, cells = grid(res)
    assert rows == ["rbf", "hmk"] and cols == ["kl", "js"] and ("hmk", "js") not in cells
    md = markdown(res)
    assert "| kernel \\ divergence.link | kl | js |" in md
    assert "| rbf | 0.875 [" in md and "+0.375 better" in md and "-0.300 worse" in md and "n.s." in md
    assert "Baseline **dpo**: 0.500 [" in md
    assert "| hmk | 0.200 [" in md and " | - |" in md
    table = list(csv.DictReader(io.StringIO(csv_text(res))))
    assert [r["group"] for r in table] == [x["group"] for x in res["groups"]]
    good = next(r for r in table if r["group"] == "kernel-rbf__divergence.link-kl")
    assert float(good["rewards/accuracies:mean"]) == 0.875 and good["kernel"] == "rbf"
    assert int(good["rewards/accuracies:mcnemar_n01"]) == 15
    paths = out["paths"]
    assert json.loads(paths["json"].read_text())["groups"] == res["groups"]
    assert paths["heatmap"].stat().st_size > 5000
    page = paths["report"].read_text()
    assert 'href="../runs/kernel-rbf__divergence.link-kl__seed-0/report/index.html"' in page
    assert (plan.out_dir / "runs" / "kernel-rbf__divergence.link-kl__seed-0" / "report" / "index.html").is_file()


def test_seeds_give_mean_and_spread(tmp_path):
    cells = {}
    for seed, shift in ((0, 0), (1, 4)):
        good = GOOD_R[:]
        for i in range(shift):
            good[20 + i] = 0
        cells[f"baseline-dpo__seed-{seed}"] = (BASE_R, BASE_R)
        cells[f"kernel-rbf__divergence.link-kl__seed-{seed}"] = (good, good)
    res = collect(synthetic_sweep(tmp_path, cells, seeds=(0, 1)))
    g = next(x for x in res["groups"] if x["group"] == "kernel-rbf__divergence.link-kl")
    s = g["rewards/accuracies"]
    assert s["per_seed"] == [35 / 40, 31 / 40] and s["mean"] == pytest.approx(33 / 40)
    assert s["std"] == pytest.approx(np.std([35 / 40, 31 / 40], ddof=1)) and s["n"] == 80
    mc = g["vs_baseline"]["rewards/accuracies"]["mcnemar"]
    assert (mc["n01"], mc["n10"]) == (15 + 11, 0)  # discordant pairs pooled over the two seeds
