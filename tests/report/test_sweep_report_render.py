"""The sweep report (`dpok sweep collect`), rendered in headless Chromium and checked against results.json."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from dpok_framework.experiments import write_outputs
from experiments.synthetic import synthetic_sweep
from experiments.test_collect import _cells
from report.test_report_render import CHROMIUM, FLAGS


def _numbers(page: str) -> dict[tuple[str, str, str], float]:
    """(group, metric, field) -> data-value of the per-cell table."""
    out = {}
    for group, metric, row in re.findall(r'<tr data-group="([^"]+)" data-metric="([^"]+)">(.*?)</tr>', page):
        for field, value in re.findall(r'data-field="([^"]+)" data-value="([^"]+)"', row):
            out[(group, metric, field)] = float(value)
    return out


def _check(page: str, results: dict, out_dir: Path) -> None:
    nums = _numbers(page)
    for g in results["groups"]:
        for m in ("rewards/accuracies", "logps/accuracies"):
            for f in ("mean", "low", "high"):
                assert nums[(g["group"], m, f)] == g[m][f]
            if "vs_baseline" in g:
                v = g["vs_baseline"][m]
                assert nums[(g["group"], m, "diff")] == v["diff"]
                assert nums[(g["group"], m, "p_holm")] == v["p_holm"]
                assert nums[(g["group"], m, "p_mcnemar")] == v["mcnemar"]["p_value"]
    for g in results["groups"]:
        assert html_escape(g["verdict"]) in page
    links = re.findall(r'<a href="([^"]+)" data-cell="([^"]+)">', page)
    assert sorted({c for _, c in links}) == sorted(results["finished"])
    for href, _ in links:
        assert (out_dir / href).resolve().is_file()
    assert "| kernel" not in page and "<table data-table=\"paper\">" in page


def html_escape(s: str) -> str:
    import html

    return html.escape(s)


def test_sweep_report_numbers_and_links(tmp_path):
    plan = synthetic_sweep(tmp_path, _cells())
    out = write_outputs(plan)
    _check(out["paths"]["report"].read_text(), out["results"], out["paths"]["report"].parent)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_sweep_report_renders_in_headless_chromium(tmp_path):
    plan = synthetic_sweep(tmp_path, _cells())
    out = write_outputs(plan)
    index = out["paths"]["report"]
    url = index.resolve().as_uri()
    common = FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([CHROMIUM, *common, "--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    assert 'data-ready="1"' in page
    _check(page, out["results"], index.parent)
    rendered = re.findall(r'<img alt="sweep heat map"[^>]*data-rendered="(\d+)x(\d+)"', page)
    assert rendered and int(rendered[0][0]) > 300 and int(rendered[0][1]) > 150
    # a linked cell report opens and renders too
    href = re.findall(r'<a href="([^"]+)" data-cell=', page)[0]
    cell = (index.parent / unquote(urlparse(href).path)).resolve()
    dom2 = subprocess.run([CHROMIUM, *common, "--virtual-time-budget=5000", "--dump-dom", cell.as_uri()],
                          capture_output=True, text=True, timeout=90)
    assert dom2.returncode == 0 and 'data-ready="1"' in dom2.stdout and "dpok run report" in dom2.stdout
    shot = tmp_path / "shot.png"
    r = subprocess.run([CHROMIUM, *common, f"--screenshot={shot}", "--window-size=1200,2400", url],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0 and shot.stat().st_size > 10_000, r.stderr[-2000:]
    import matplotlib.image as mpimg

    px = mpimg.imread(shot)[..., :3]
    assert px.std() > 0.05 and (px.reshape(-1, 3).std(axis=1) > 0.1).mean() > 0.005  # not blank, has colour
    json.loads((index.parent / "results.json").read_text())
