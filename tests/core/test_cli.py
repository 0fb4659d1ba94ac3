"""The `dpok` command line: plugins listing, config schema/validate, error exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from click.testing import CliRunner

from dpok_framework.cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_plugins_text_lists_distributions_and_components():
    out = run("plugins")
    assert out.exit_code == 0
    assert "dpok_kernels  [dpok-kernels 0.1.0]" in out.output
    assert "dpoktest_demo  [dpoktest-plugin-demo 0.3.1]" in out.output
    assert "dpoktest_triangular" in out.output


def test_plugins_json():
    data = json.loads(run("plugins", "--json").output)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["dpok_losses"]["components"]["loss"] == ["hinge", "ipo", "robust", "sigmoid"]
    assert by_name["dpok_losses"]["version"] == "0.1.0" and by_name["dpok_losses"]["hooks"] == ["register_losses"]
    assert data["failures"] == []


def test_config_schema_is_json_schema():
    schema = json.loads(run("config", "schema").output)
    assert schema["title"] == "RunConfig" and "training" in schema["properties"]
    comps = schema["x-dpok-components"]
    assert set(comps) == {"kernel", "divergence", "loss", "embedder", "selection_metric", "privacy_wrapper"}
    assert comps["kernel"]["rbf"]["distribution"] == "dpok-kernels" and "sigma" in comps["kernel"]["rbf"]["params"]["properties"]
    lap = comps["kernel"]["dpoktest_laplacian"]  # a third-party plugin's params are there too
    assert lap["distribution"] == "dpoktest-plugin-demo" and lap["params"]["properties"]["sigma"]["exclusiveMinimum"] == 0.0
    assert "x-dpok-components" not in json.loads(run("config", "schema", "--no-components").output)


def test_config_validate_ok_and_show(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("loss: {name: robust, params: {label_smoothing: 0.2}}\ntraining: {lr: 1.0e-5}\n")
    ok = run("config", "validate", str(path))
    assert ok.exit_code == 0 and f"{path}: valid" in ok.output
    shown = run("config", "validate", str(path), "--set", "training.batch_size=3", "--show")
    assert "batch_size: 3" in shown.output and "label_smoothing: 0.2" in shown.output


def test_config_validate_errors_exit_2_with_field(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("loss: {name: hinge, params: {margn: 1}}\n")
    out = run("config", "validate", str(path))
    assert out.exit_code == 2
    assert "loss.params.margn: Extra inputs are not permitted" in out.output and str(path) in out.output


def test_console_script_installed():
    exe = shutil.which("dpok", path=os.path.dirname(sys.executable))
    assert exe, "the `dpok` console script is not installed next to the interpreter"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "dpok, version 0.1.0"


def test_plugins_check_runs_the_contract_on_named_components():
    out = run("plugins", "check", "hinge", "robust")
    assert out.exit_code == 0, out.output
    assert "loss  hinge" in out.output and "non_increasing" in out.output and "0 violation(s)" in out.output


def test_plugins_new_refuses_a_bad_name_and_an_existing_directory(tmp_path):
    bad = CliRunner().invoke(cli, ["plugins", "new", "--kind", "loss", "My-Loss", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "lower_snake_case" in bad.output
    assert run("plugins", "new", "--kind", "loss", "my_loss", "--dir", str(tmp_path)).exit_code == 0
    again = CliRunner().invoke(cli, ["plugins", "new", "--kind", "loss", "my_loss", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output
