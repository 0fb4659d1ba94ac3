"""Run report: full config table, one weight panel per HMK level, one drift row per step, units."""

from __future__ import annotations

import json
import re

import matplotlib.image as mpimg

from dpok_framework.report import build_report
from dpok_framework.report.plots import _short_layer_names

from report.test_report_render import make_run


def test_config_table_names_data_lr_and_batch(tmp_path):
    run = make_run(tmp_path)
    (run / "config.yaml").write_text(
        "model: {path: builtin:smollm2-135m-instruct}\n"
        "data: {train: pairs.jsonl, eval: null, eval_fraction: 0.3, seed: 0, max_length: 192}\n"
        "loss: {name: sigmoid, beta: 0.1}\n"
        "kernel: {name: hmk, gamma: 0.3, lr: 0.05, params: {normalize: true}}\n"
        "training: {lr: 5.0e-5, batch_size: 2, gradient_accumulation_steps: 2, seed: 0}\n")
    page = build_report(run).read_text()
    cfg = dict(re.findall(r'data-metric="([^"]+)" data-source="config"><th>[^<]*</th><td[^>]*>([^<]*)</td>', page))
    assert cfg["data.train"] == "pairs.jsonl" and cfg["data.eval"] == "eval_fraction 0.3 of data.train (seed 0)"
    assert float(cfg["training.lr"]) == 5e-5 and cfg["training.batch_size"] == "2"
    assert cfg["kernel.lr"] == "0.05" and cfg["kernel.params"] == "normalize=True"
    assert cfg["pairs per optimizer step (per process)"] == "4"


def test_hmk_weights_one_panel_per_level_and_drift_rows_unique(tmp_path):
    run = make_run(tmp_path)
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    for r in recs:  # HMK's group weights beside its effective member weights
        if r["split"] == "train" and "kernel/weights/rbf" in r:
            w = [r[f"kernel/weights/{m}"] for m in ("rbf", "polynomial", "spectral", "mahalanobis")]
            r["kernel/weights/local"], r["kernel/weights/global"] = w[0] + w[1], w[2] + w[3]
    recs.append({"step": 40, "epoch": 1.0, "split": "eval", "rewards/accuracies": 0.7})  # final eval, same step
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = build_report(run).parent
    page = (out / "index.html").read_text()
    drift_steps = re.findall(r'<tr data-step="(\d+)">', page)
    assert drift_steps == ["10", "20", "30", "40"]
    assert "drift_slope (accuracy points per 1000 steps)" in page
    h, w = mpimg.imread(out / "kernel_weights.png").shape[:2]
    assert h > 800 and w >= 800  # three stacked panels, each ~320 px tall
    # without the group weights: one panel
    for r in recs:
        r.pop("kernel/weights/local", None), r.pop("kernel/weights/global", None)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    h1 = mpimg.imread(build_report(run).parent / "kernel_weights.png").shape[0]
    assert h1 < 400


def test_layer_tick_labels_are_short():
    names = [f"model.layers.{i}.self_attn.q_proj.weight" for i in range(3)] + ["model.layers.0.mlp.up_proj.weight"]
    assert _short_layer_names(names) == ["0.self_attn.q_proj", "1.self_attn.q_proj", "2.self_attn.q_proj",
                                         "0.mlp.up_proj"]
