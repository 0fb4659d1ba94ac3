"""Lifecycle hooks end to end with a third-party plugin package installed outside the core
(tests/fixtures/dpok-plugin-lifecycle): it logs metrics, writes into checkpoints, stops training and adds a
CLI command. Also: what a hook may not do."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from dpok_framework.engine import Engine, latest_checkpoint, read_metrics
from dpok_framework.errors import PluginError
from dpok_framework.lifecycle import merge_extra
from dpok_framework.registry import load_registry, reset_registry

from plugin_install import install_fixture

from .tiny import run_config


@pytest.fixture(scope="module")
def lifecycle_plugin():
    """The fixture package, really pip-installed; on sys.path for this module's tests only."""
    path = str(install_fixture("dpok-plugin-lifecycle"))
    sys.path.insert(0, path)
    reset_registry()
    yield
    sys.path.remove(path)
    reset_registry()


def test_a_plugin_logs_metrics_writes_checkpoint_files_and_stops_training(tmp_path, tiny_model_dir, pairs_file,
                                                                          lifecycle_plugin):
    registry = load_registry()
    assert "dpok_step_end" in registry.plugins["lifecycle_demo"].hooks
    cfg = run_config(tmp_path, tiny_model_dir, pairs_file, plugins={"lifecycle_demo": {"stop_at_step": 2}},
                     training={"max_steps": 6, "eval_steps": 1, "save_steps": 2})
    res = Engine(cfg, registry=registry).train()
    assert res.global_step == 2 and res.stopped_by == "hook: lifecycle_demo: reached step 2"
    recs = read_metrics(res.run_dir / "metrics.jsonl")
    train = [r for r in recs if r["split"] == "train"]
    evals = [r for r in recs if r["split"] == "eval"]
    assert [r["demo/step_seen"] for r in train] == [1.0, 2.0]
    assert [r["demo/eval_calls"] for r in evals] == [1.0, 2.0]  # steps 1 and 2; the final eval is step 2's
    assert evals[-1]["demo/margin_x2"] == pytest.approx(2 * evals[-1]["rewards/margins"])
    assert json.loads((latest_checkpoint(res.run_dir) / "demo.json").read_text()) == {"step": 2}
    assert json.loads((res.run_dir / "demo_end.json").read_text())["stopped_by"].startswith("hook:")


def test_the_plugin_is_inactive_without_its_settings(tmp_path, tiny_model_dir, pairs_file, lifecycle_plugin):
    res = Engine(run_config(tmp_path, tiny_model_dir, pairs_file, training={"max_steps": 2}),
                 registry=load_registry()).train()
    assert res.stopped_by == "max_steps"
    assert "demo/step_seen" not in read_metrics(res.run_dir / "metrics.jsonl")[0]


def test_a_plugin_adds_a_cli_command_and_dpok_plugins_lists_it(lifecycle_plugin):
    from dpok_framework.cli.main import cli

    out = CliRunner().invoke(cli, ["lifecycle-demo", "tester"])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == "hello tester from dpok-plugin-lifecycle"
    assert "lifecycle-demo" in CliRunner().invoke(cli, ["--help"]).output
    listed = CliRunner().invoke(cli, ["plugins"]).output
    assert "lifecycle_demo  [dpok-plugin-lifecycle 0.2.0]" in listed and "early_stopping" in listed


def test_hooks_may_add_metrics_but_not_replace_or_send_non_numbers():
    assert merge_extra({"loss": 1.0}, [None, {"a/b": 2}], "dpok_step_end") == {"a/b": 2.0}
    with pytest.raises(PluginError, match="'loss' already exists"):
        merge_extra({"loss": 1.0}, [{"loss": 0.0}], "dpok_step_end")
    with pytest.raises(PluginError, match="already exists"):
        merge_extra({}, [{"x": 1.0}, {"x": 2.0}], "dpok_evaluate")
    with pytest.raises(PluginError, match="not a number"):
        merge_extra({}, [{"x": "high"}], "dpok_evaluate")
    with pytest.raises(PluginError, match="return a dict"):
        merge_extra({}, [3.0], "dpok_evaluate")
