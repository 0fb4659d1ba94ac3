"""`dpok sweep` end to end with tiny models: plan, run, a kill in the middle, resume, collect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dpok_framework.cli.main import cli
from dpok_framework.config import load_config
from dpok_framework.experiments import build_plan, cell_status, load_spec, run_sweep
from dpok_framework.experiments.plan import COMMANDS, PLAN_JSON

from engine.tiny import reset_accelerate, save_tiny_model, write_pairs


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep-assets")
    return save_tiny_model(root / "model"), write_pairs(root / "pairs.jsonl", n=24)


@pytest.fixture(autouse=True)
def _fresh(monkeypatch, tmp_path):
    monkeypatch.setenv("DPOK_CACHE", str(tmp_path / "dpok-cache"))
    reset_accelerate()
    yield
    reset_accelerate()


def write_spec(tmp_path: Path, model: Path, pairs: Path, seeds=(0,), **extra) -> Path:
    spec = {
        "name": "tiny",
        "base": {"model": {"path": str(model)},
                 "data": {"train": str(pairs), "eval_fraction": 0.25, "max_length": 64, "max_prompt_length": 32},
                 "training": {"lr": 1e-3, "batch_size": 4, "max_steps": 6, "save_steps": 2, "logging_steps": 1,
                              "lr_scheduler": "constant"},
                 "kernel": {"fit_samples": 8}},
        "axes": {"kernel": {"rbf": {"kernel.name": "rbf", "kernel.gamma": 0.5}},
                 "divergence.link": ["kl", "js"]},
        "seeds": list(seeds),
        "baseline": {"label": "dpo", "set": {"kernel.name": None}},
        "resamples": 500, "out_dir": str(tmp_path / "sweep"), **extra}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_plan_resolves_every_cell_on_one_split(tmp_path, assets):
    path = write_spec(tmp_path, *assets, seeds=(0, 3))
    res = CliRunner().invoke(cli, ["sweep", "plan", str(path)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "sweep"
    plan = json.loads((out / PLAN_JSON).read_text())
    names = [c["name"] for c in plan["cells"]]
    assert names == ["baseline-dpo__seed-0", "baseline-dpo__seed-3",
                     "kernel-rbf__divergence.link-kl__seed-0", "kernel-rbf__divergence.link-kl__seed-3",
                     "kernel-rbf__divergence.link-js__seed-0", "kernel-rbf__divergence.link-js__seed-3"]
    commands = (out / COMMANDS).read_text().splitlines()
    assert len(commands) == 6 and all(c.startswith("dpok sweep run ") and f"--cell {n}" in c
                                      for c, n in zip(commands, names))
    split = json.loads((out / "data" / "split.json").read_text())
    assert len(split["heldout_rows"]) == 6 and not set(split["heldout_rows"]) & set(split["train_rows"])
    assert sorted(split["heldout_rows"] + split["train_rows"]) == list(range(24))
    for c in plan["cells"]:
        cfg = load_config(c["config"])
        assert cfg.data.eval == str((out / "data" / "heldout.jsonl").resolve())
        assert cfg.data.train == str((out / "data" / "train.jsonl").resolve())
        assert cfg.training.seed == c["seed"] and cfg.output.dir == c["run_dir"]
        assert cfg.kernel.name == (None if c["baseline"] else "rbf")
        assert cfg.divergence.link.name == c["labels"].get("divergence.link", "kl")
    assert len((out / "data" / "heldout.jsonl").read_text().splitlines()) == 6
    assert "6 cells" in res.output


def test_bad_sweep_file_names_the_field(tmp_path, assets):
    path = write_spec(tmp_path, *assets, metric="f1")
    res = CliRunner().invoke(cli, ["sweep", "plan", str(path)])
    assert res.exit_code == 2 and "metric" in res.output and str(path) in res.output
    path = write_spec(tmp_path, *assets)
    spec = yaml.safe_load(path.read_text())
    spec["axes"]["kernel"]["rbf"]["kernel.gamma"] = -1
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    res = CliRunner().invoke(cli, ["sweep", "plan", str(path)])
    assert res.exit_code == 2 and "kernel.gamma" in res.output and "kernel-rbf" in res.output


def test_run_survives_a_kill_and_resumes(tmp_path, assets, monkeypatch):
    import dpok_framework.training.loop as loop_mod
    import dpok_framework.training.trainer as engine_mod

    spec = load_spec(write_spec(tmp_path, *assets))
    plan = build_plan(spec)
    victim = plan.cells[2]  # the last cell: killed right after its first checkpoint
    real_save = loop_mod.save_checkpoint

    def save_then_die(accelerator, run_dir, *args, **kwargs):
        real_save(accelerator, run_dir, *args, **kwargs)
        if Path(run_dir).name == victim.name:
            raise KeyboardInterrupt  # as if the process were killed here
    monkeypatch.setattr(loop_mod, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan)
    assert [cell_status(c) for c in plan.cells] == ["finished", "finished", "resume"]
    stamps = {c.name: (Path(c.run_dir) / "sweep_cell.json").stat().st_mtime_ns for c in plan.cells[:2]}
    monkeypatch.setattr(loop_mod, "save_checkpoint", real_save)

    calls = []
    real_init = engine_mod.Engine.__init__

    def spy(self, config, *, resume=False, **kw):
        calls.append((Path(config.output.dir).name, resume))
        real_init(self, config, resume=resume, **kw)
    monkeypatch.setattr(engine_mod.Engine, "__init__", spy)
    reset_accelerate()
    res = CliRunner().invoke(cli, ["sweep", "run", str(spec.source), "-q"])
    assert res.exit_code == 0, res.output
    assert calls == [(victim.name, True)]  # finished cells are not trained again; the victim resumes
    assert f"{plan.cells[0].name}: skipped" in res.output and f"{victim.name}: resumed" in res.output
    for c in plan.cells[:2]:
        assert (Path(c.run_dir) / "sweep_cell.json").stat().st_mtime_ns == stamps[c.name]
    summary = json.loads((Path(victim.run_dir) / "summary.json").read_text())
    assert summary["global_step"] == 6
    steps = [json.loads(x)["step"] for x in (Path(victim.run_dir) / "metrics.jsonl").read_text().splitlines()
             if json.loads(x)["split"] == "train"]
    assert steps[:2] == [1, 2] and steps[-1] == 6 and 3 in steps  # continued after step 2
    # outputs: the table, heat map and report; every cell evaluated on the same 6 pairs
    out = tmp_path / "sweep" / "results"
    results = json.loads((out / "results.json").read_text())
    assert results["n_pairs"] == 6 and results["missing"] == [] and len(results["groups"]) == 3
    assert (out / "heatmap.png").stat().st_size > 5000 and (out / "table.csv").is_file()
    assert "| kernel \\ divergence.link | kl | js |" in (out / "table.md").read_text()
    assert "baseline-dpo: baseline" in res.output and "not distinguishable from dpo" in res.output
    for c in plan.cells:
        assert (Path(c.run_dir) / "eval" / "pairs.csv").is_file()
        assert "## Held-out evaluation" in (Path(c.run_dir) / "model" / "README.md").read_text()
        assert (Path(c.run_dir) / "report" / "index.html").is_file()
    # a second run does nothing; collect alone rewrites the outputs
    calls.clear()
    reset_accelerate()
    res = CliRunner().invoke(cli, ["sweep", "run", str(spec.source), "--no-collect", "-q"])
    assert res.exit_code == 0 and calls == [] and res.output.count("skipped") == 3
    res = CliRunner().invoke(cli, ["sweep", "collect", str(spec.source)])
    assert res.exit_code == 0 and "wrote" in res.output


def test_a_changed_config_is_not_reused(tmp_path, assets):
    spec = load_spec(write_spec(tmp_path, *assets))
    plan = build_plan(spec)
    cell = plan.cells[0]
    Path(cell.run_dir).mkdir(parents=True)
    cfg = yaml.safe_load(Path(cell.config).read_text())
    cfg["loss"]["beta"] = 0.5
    (Path(cell.run_dir) / "config.yaml").write_text(yaml.safe_dump(cfg))
    from dpok_framework.errors import ConfigError
    from dpok_framework.experiments import run_cell

    with pytest.raises(ConfigError, match="different configuration"):
        run_cell(cell)
