"""`dpok report`: HTML + PNGs from a hand-written run directory, rendered in headless Chromium."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from dpok_framework.evaluation.rundir import read_metrics
from dpok_framework.report import build_report

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def make_run(root: Path) -> Path:
    run = root / "run"
    run.mkdir()
    rng = np.random.default_rng(0)
    recs = []
    for step in range(1, 41):
        w = np.exp([step / 20, 0.0, -step / 40, 0.3])
        w = w / w.sum()
        recs.append({"step": step, "epoch": step / 40, "split": "train", "loss": 0.69 * math.exp(-step / 30),
                     "rewards/chosen": 0.01 * step, "rewards/rejected": -0.008 * step,
                     "rewards/margins": 0.018 * step, "rewards/accuracies": min(1.0, 0.5 + step / 60),
                     "logps/chosen": -50 + 0.1 * step, "logps/rejected": -55 - 0.1 * step,
                     "grad_norm": float(rng.uniform(0.5, 2)), "learning_rate": 1e-5,
                     "kernel/log_ratio": 0.02 * step,
                     **{f"kernel/weights/{n}": float(v) for n, v in zip(["rbf", "polynomial", "spectral",
                                                                         "mahalanobis"], w)},
                     "divergence/js": 0.001 * step})
        if step % 10 == 0:
            recs.append({"step": step, "epoch": step / 40, "split": "eval", "loss": 0.7 * math.exp(-step / 50),
                         "rewards/accuracies": 0.5 + step / 200, "rewards/margins": 0.01 * step,
                         "rewards/chosen": 0.006 * step, "rewards/rejected": -0.004 * step})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (run / "summary.json").write_text(json.dumps({"steps": 40, "train_time_s": 12.345678, "final_loss": 0.183}))
    (run / "config.yaml").write_text("loss: {name: sigmoid, beta: 0.1}\nkernel: {name: hmk, gamma: 0.3}\n")
    sel = run / "selection"
    sel.mkdir()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(rng.random((4, 7)))
    fig.savefig(sel / "heatmap.png")
    plt.close(fig)
    (sel / "selection.json").write_text(json.dumps({"kernel": "rbf", "divergence": "js", "score": 0.8125}))
    ev = run / "eval"
    ev.mkdir()
    (ev / "eval.json").write_text(json.dumps({"data": "held_out.jsonl", "metrics": {
        "rewards/accuracies": 0.671875, "rewards/margins": 0.123456789, "davies_bouldin": 3.14159,
        "win_rate": 0.6796875}, "kernel_weights": {"rbf": 0.4, "polynomial": 0.6}}))
    (ev / "htsr.json").write_text(json.dumps({
        "policy": {"alpha": 3.2, "alpha_weighted": 1.234567, "frac_alpha_below_2": 0.1, "num_layers": 3},
        "reference": {"alpha": 3.5, "alpha_weighted": 1.5, "frac_alpha_below_2": 0.0, "num_layers": 3},
        "layers": [{"name": f"l{i}", "shape": [64, 32], "alpha/policy": 3.0 + i / 10,
                    "alpha_weighted/policy": 1.0 + i / 10, "alpha/reference": 3.5,
                    "alpha_weighted/reference": 1.5} for i in range(3)]}))
    return run


class _Cells(HTMLParser):
    """Collects elements with data-value, and the attributes of every <img>."""

    def __init__(self):
        super().__init__()
        self.cells: list[tuple[dict, str]] = []
        self.imgs: list[dict] = []
        self._open: dict | None = None
        self.body: dict = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a)
        if tag == "body":
            self.body = a
        if "data-value" in a:
            self._open = a
            self._text = ""

    def handle_data(self, data):
        if self._open is not None:
            self._text += data

    def handle_endtag(self, tag):
        if self._open is not None and tag == "td":
            self.cells.append((self._open, self._text))
            self._open = None


def check_page(html_text: str, run: Path, require_rendered: bool) -> _Cells:
    p = _Cells()
    p.feed(html_text)
    # every image is a non-empty PNG (and decoded by the browser when rendered)
    assert len(p.imgs) >= 7, [i.get("alt") for i in p.imgs]
    for im in p.imgs:
        assert im["src"].startswith("data:image/png;base64,") and len(im["src"]) > 2000
        if require_rendered:
            w, h = map(int, im["data-rendered"].split("x"))
            assert w > 100 and h > 100, im.get("alt")
    # final train/eval values equal the last occurrence in metrics.jsonl
    recs = read_metrics(run)
    final = [(a, t) for a, t in p.cells if "data-split" in a]
    assert len(final) > 15
    for a, text in final:
        last = [r for r in recs if r["split"] == a["data-split"] and a["data-metric"] in r][-1]
        v = last[a["data-metric"]]
        assert int(a["data-step"]) == last["step"]
        assert float(a["data-value"]) == v
        assert float(text) == pytest.approx(v, rel=1e-5, abs=1e-12)
    by_metric = {(a.get("data-metric"), a.get("data-source")): (float(a["data-value"]), t) for a, t in p.cells}
    # eval table, summary, HT-SR table, selection match their JSON files
    ev = json.loads((run / "eval" / "eval.json").read_text())["metrics"]
    for k, v in ev.items():
        got, text = by_metric[(k, "eval")]
        assert got == v and float(text) == pytest.approx(v, rel=1e-5)
    summ = json.loads((run / "summary.json").read_text())
    for k, v in summ.items():
        assert by_metric[(k, "summary")][0] == v
    assert by_metric[("score", "selection")][0] == 0.8125
    rows = re.findall(r'data-metric="alpha_weighted" data-source="htsr">.*?</tr>', html_text)
    assert rows and "1.23457" in rows[0] and "1.5" in rows[0]
    return p


def test_report_html_matches_metrics(tmp_path):
    run = make_run(tmp_path)
    index = build_report(run)
    assert index == run / "report" / "index.html"
    pngs = sorted(f.name for f in index.parent.glob("*.png"))
    assert pngs == ["divergence.png", "drift.png", "htsr.png", "kernel_log_ratio.png", "kernel_weights.png",
                    "selection_heatmap.png", "training_curves.png"]
    assert all((index.parent / f).stat().st_size > 1000 for f in pngs)
    check_page(index.read_text(), run, require_rendered=False)


def test_report_without_optional_sections(tmp_path):
    run = tmp_path / "bare"
    run.mkdir()
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "split": "train", "loss": 0.5}) + "\n")
    html_text = build_report(run, out_dir=tmp_path / "out", embed_images=False).read_text()
    assert 'src="training_curves.png"' in html_text and "id=\"htsr\"" not in html_text
    assert "id=\"kernel_weights\"" not in html_text and "id=\"drift\"" not in html_text


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium); "
                                               "the headless render check needs it")
def test_report_renders_in_headless_chromium(tmp_path):
    run = make_run(tmp_path)
    index = build_report(run)
    url = index.resolve().as_uri()
    common = FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([CHROMIUM, *common, "--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    p = check_page(dom.stdout, run, require_rendered=True)
    assert p.body.get("data-ready") == "1"
    shot = tmp_path / "shot.png"
    r = subprocess.run([CHROMIUM, *common, f"--screenshot={shot}", "--window-size=1200,5000", url],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and shot.is_file() and shot.stat().st_size > 10_000, r.stderr[-2000:]
    import matplotlib.image as mpimg

    px = mpimg.imread(shot)[..., :3]
    assert px.std() > 0.05  # not blank
    assert (px.reshape(-1, 3).std(axis=1) > 0.1).mean() > 0.005  # some coloured (plot) pixels
