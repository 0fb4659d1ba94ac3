"""The benchmark script runs end to end on the tiny preset (no timing assertions), and its ratio maths."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402
from benchmarks.configs import all_configs, select  # noqa: E402
from benchmarks.run import main, schedule  # noqa: E402

HAVE_TRL = importlib.util.find_spec("trl") is not None


def test_tiny_preset_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    names = ["dpo", "dpo-precompute", "hmk", "penalty-kl"] + (["trl"] if HAVE_TRL else [])
    out = tmp_path / "bench.json"
    result = main(["--preset", "tiny", "--steps", "1", "--warmup", "1", "--isolation", "none",
                   "--configs", ",".join(names), "--json", str(out), "--work-dir", str(tmp_path / "work")])
    written = json.loads(out.read_text())
    assert written["command"].startswith("python benchmarks/run.py --preset tiny")
    assert set(written["configs"]) == set(names)
    for name in names:
        row = written["configs"][name]
        assert row["errors"] == [], (name, row["errors"])
        assert row["n_steps"] == 1 and row["median_step_s"] > 0 and row["samples_per_s"] > 0
    for run in written["runs"]:
        assert run["ok"] and run["summary_steps"] == 2  # 1 warm-up + 1 measured optimiser step
    assert set(written["ratios"]["overhead_vs_dpo"]) == {"dpo-precompute", "hmk", "penalty-kl"} - {"dpo-precompute"}
    if HAVE_TRL:
        assert written["ratios"]["dpo_vs_trl"]["speedup"] > 0
    assert "hmk overhead over dpo" in result["table"]


def _rows(step: dict[str, float], mem: dict[str, float]) -> dict:
    runs = [{"ok": True, "name": n, "framework": "trl" if n.startswith("trl") else "dpok",
             "precompute": "precompute" in n, "step_s": [s, s * 1.5, s * 0.5], "peak_rss_mb": mem[n]}
            for n, s in step.items()]
    return report.aggregate(runs, batch_size=8)


def test_ratios_against_targets():
    rows = _rows({"trl": 2.0, "dpo": 1.0, "rbf": 1.04, "hmk": 1.2, "penalty-js": 1.5},
                 {"trl": 1000.0, "dpo": 900.0, "rbf": 905.0, "hmk": 950.0, "penalty-js": 1200.0})
    assert rows["dpo"]["median_step_s"] == 1.0 and rows["dpo"]["samples_per_s"] == 8.0
    rat = report.ratios(rows)
    vs = rat["dpo_vs_trl"]
    assert vs["speedup"] == pytest.approx(2.0) and vs["speedup_met"] is True
    assert vs["memory_ratio"] == pytest.approx(0.9) and vs["memory_met"] is True
    over = rat["overhead_vs_dpo"]
    assert over["rbf"]["overhead"] == pytest.approx(0.04) and over["rbf"]["met"] is True
    assert over["hmk"]["overhead"] == pytest.approx(0.2) and over["hmk"]["met"] is False
    assert over["penalty-js"]["target"] is None and over["penalty-js"]["met"] is None
    text = report.table(rows, rat)
    assert "MISSED" in text and "penalty-js" in text


def test_failed_run_is_reported_not_hidden():
    runs = [{"ok": True, "name": "dpo", "framework": "dpok", "step_s": [1.0], "peak_rss_mb": 1.0},
            {"ok": False, "name": "hmk", "framework": "dpok", "error": "ConfigError: boom"}]
    rows = report.aggregate(runs, batch_size=4)
    assert rows["hmk"]["median_step_s"] is None and rows["hmk"]["errors"] == ["ConfigError: boom"]
    assert "FAILED: ConfigError: boom" in report.table(rows, report.ratios(rows))


def test_selection_and_interleaving():
    configs = all_configs(["kl", "js"])
    assert [c.name for c in select(configs, "penalties")] == ["penalty-kl", "penalty-js"]
    assert [c.name for c in select(configs, "vs-trl")] == ["trl", "dpo", "trl-precompute", "dpo-precompute"]
    with pytest.raises(SystemExit, match="unknown configuration 'nope'"):
        select(configs, "dpo,nope")
    order = [c.name for c in schedule(select(configs, "trl,dpo,hmk"), rounds=2)]
    assert order == ["trl", "dpo", "trl", "dpo", "hmk"]


def test_rounds_take_the_best_round_median():
    runs = [{"ok": True, "name": "trl", "framework": "trl", "step_s": [15.0, 16.0, 14.0], "peak_rss_mb": 10.0},
            {"ok": True, "name": "trl", "framework": "trl", "step_s": [5.0, 4.0, 6.0], "peak_rss_mb": 12.0}]
    row = report.aggregate(runs, batch_size=4)["trl"]
    assert row["round_medians"] == [15.0, 5.0] and row["median_step_s"] == 5.0
    assert row["n_steps"] == 6 and row["peak_rss_mb"] == 12.0
