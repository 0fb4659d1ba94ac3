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
    names = ["dpo", "hmk", "penalty-kl"] + (["trl"] if HAVE_TRL else [])
    out = tmp_path / "bench.json"
    result = main(["--preset", "tiny", "--smoke", "--rounds", "2", "--steps", "1", "--warmup", "1",
                   "--isolation", "none", "--configs", ",".join(names), "--json", str(out),
                   "--work-dir", str(tmp_path / "work")])
    written = json.loads(out.read_text())
    assert written["command"].startswith("python benchmarks/run.py --preset tiny") and written["smoke"] is True
    assert set(written["configs"]) == set(names)
    for name in names:
        row = written["configs"][name]
        assert row["errors"] == [], (name, row["errors"])
        assert row["ok_runs"] == 2 and row["median_of_run_medians_s"] > 0 and row["samples_per_s_at_median"] > 0
    # order alternates by round: round 2 runs the configurations in reverse
    order = [(r["round"], r["name"]) for r in written["runs"]]
    assert [n for r, n in order if r == 1] == names and [n for r, n in order if r == 2] == names[::-1]
    for run in written["runs"]:
        assert run["ok"] and run["summary_steps"] == 2  # 1 warm-up + 1 measured optimiser step
        assert len(run["load_start"]) == 3 and run["run_median_step_s"] > 0
    assert set(written["ratios"]["vs_dpo"]) == {"hmk", "penalty-kl"}
    assert [x["round"] for x in written["round_loads"]] == [1, 2]
    if HAVE_TRL:
        assert written["ratios"]["dpo_vs_trl"]["speedup"]["rounds"] == 2
    assert "hmk / dpo: step time" in result["table"] and "rounds flagged" in result["table"]


def test_method_refuses_too_few_rounds_or_steps():
    with pytest.raises(SystemExit, match=">= 5 rounds of >= 5 measured steps"):
        main(["--preset", "tiny", "--rounds", "2"])
    with pytest.raises(SystemExit, match="--smoke"):
        main(["--preset", "smollm2-512", "--steps", "3"])


def _run(name: str, rnd: int, step: float, mem: float, load: float = 1.0) -> dict:
    return {"ok": True, "name": name, "framework": "trl" if name.startswith("trl") else "dpok",
            "precompute": "precompute" in name, "round": rnd, "step_s": [step] * 5, "run_median_step_s": step,
            "peak_rss_mb": mem + 400, "train_rss_increase_mb": mem, "load_start": [load, 0, 0],
            "load_end": [load, 0, 0]}


def test_statistic_is_median_of_per_round_ratios():
    # per-round TRL/dpo speed-ups 2.0, 1.2, 1.5: median 1.5, min 1.2, max 2.0 (NOT a ratio of minima)
    runs = [_run("trl", 1, 4.0, 100), _run("dpo", 1, 2.0, 90),
            _run("dpo", 2, 5.0, 90, load=7.0), _run("trl", 2, 6.0, 100, load=7.0),
            _run("trl", 3, 3.0, 100), _run("dpo", 3, 2.0, 95),
            _run("rbf", 1, 2.2, 91), _run("rbf", 2, 5.0, 91), _run("rbf", 3, 2.0, 95)]
    rat = report.ratios(runs)
    sp = rat["dpo_vs_trl"]["speedup"]
    assert [p["value"] for p in sp["per_round"]] == pytest.approx([2.0, 1.2, 1.5])
    assert (sp["median"], sp["min"], sp["max"]) == pytest.approx((1.5, 1.2, 2.0))
    assert sp["met"] is True and sp["range_met"] is False
    mem = rat["dpo_vs_trl"]["memory_ratio"]
    assert rat["memory_field"] == "train_rss_increase_mb" and mem["median"] == pytest.approx(0.9)
    rbf = rat["vs_dpo"]["rbf"]["step_time_ratio"]
    assert [p["value"] for p in rbf["per_round"]] == pytest.approx([1.1, 1.0, 1.0])
    assert rbf["median"] == pytest.approx(1.0) and rbf["met"] is True and rbf["range_met"] is False
    rows = report.aggregate(runs, batch_size=8)
    assert rows["dpo"]["median_of_run_medians_s"] == 2.0 and rows["dpo"]["max_of_run_medians_s"] == 5.0
    loads = report.round_loads(runs, cpu_count=2)
    assert [x["loaded"] for x in loads] == [False, True, False]  # flagged, and still in the statistic above
    text = report.table(rows, rat, loads)
    assert "x1.50 [1.20-2.00]" in text and "1 of 3 rounds flagged" in text


def test_failed_run_is_reported_not_hidden():
    runs = [_run("dpo", 1, 1.0, 10.0),
            {"ok": False, "name": "hmk", "framework": "dpok", "round": 1, "error": "ConfigError: boom"}]
    rows = report.aggregate(runs, batch_size=4)
    assert rows["hmk"]["median_of_run_medians_s"] is None and rows["hmk"]["errors"] == ["ConfigError: boom"]
    assert "FAILED: ConfigError: boom" in report.table(rows, report.ratios(runs), [])


def test_selection_and_alternating_schedule():
    configs = all_configs(["kl", "js"])
    assert [c.name for c in select(configs, "penalties")] == ["penalty-kl", "penalty-js"]
    assert [c.name for c in select(configs, "vs-trl")] == ["trl", "dpo", "trl-precompute", "dpo-precompute"]
    assert "penalty-js" not in [c.name for c in select(configs, "all,-penalty-js")]
    with pytest.raises(SystemExit, match="unknown configuration 'nope'"):
        select(configs, "dpo,nope")
    two = select(configs, "trl,dpo")
    assert [(r, c.name) for r, c in schedule(two, 3)] == [(1, "trl"), (1, "dpo"), (2, "dpo"), (2, "trl"),
                                                        (3, "trl"), (3, "dpo")]


def test_presets_follow_the_method():
    from benchmarks.presets import MIN_ROUNDS, MIN_STEPS, PRESETS

    for p in PRESETS.values():
        assert p.warmup >= 1, p.name
        if not p.memory_only:
            assert p.rounds >= MIN_ROUNDS and p.steps >= MIN_STEPS, p.name
    lengths = {(p.prompt_tokens, p.completion_tokens) for p in PRESETS.values() if p.model.startswith("builtin:")}
    assert {(32, 32), (256, 256), (512, 512)} <= lengths
    configs = all_configs(["kl", "js"])
    for p in PRESETS.values():
        select(configs, p.configs)  # every default selection names real configurations
