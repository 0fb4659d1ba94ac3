"""Broken, blocked and clashing plugins: isolation, reporting, --strict, allow/block lists, duplicates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from dpok_framework import load_registry
from dpok_framework.errors import DuplicateComponentError, PluginError
from dpok_framework.plugins import PluginLoadWarning
from plugin_install import install_fixture

DPOK = [sys.executable, "-m", "dpok_framework.cli"]


@pytest.fixture(scope="module")
def broken_path() -> Path:
    return install_fixture("dpok-plugin-broken")


@pytest.fixture(scope="module")
def dup_path() -> Path:
    return install_fixture("dpok-plugin-dup")


def _env(*paths: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPOK_")}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def test_broken_plugins_are_reported_and_the_rest_loads(monkeypatch, broken_path):
    monkeypatch.syspath_prepend(str(broken_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = load_registry()
    stages = {f.plugin: f.stage for f in reg.failures}
    assert stages == {"broken_import": "import", "broken_hook": "register_losses",
                      "broken_spec": "validate", "broken_class": "register_divergences"}
    for f in reg.failures:
        assert (f.distribution, f.version) == ("dpok-plugin-broken", "6.6.6")
    errors = {f.plugin: f.error for f in reg.failures}
    assert "this_module_does_not_exist_anywhere" in errors["broken_import"]
    assert "boom inside register_losses" in errors["broken_hook"]
    assert "unexpected_argument" in errors["broken_spec"]
    assert "register a subclass of" in errors["broken_class"]
    assert len([w for w in caught if issubclass(w.category, PluginLoadWarning)]) == 4
    # everything else still works
    assert {"sigmoid", "ipo"} <= set(reg.names("loss")) and "kl" in reg.names("divergence")
    assert "not_a_divergence" not in reg.names("divergence")


def test_strict_turns_a_failure_into_an_error(monkeypatch, broken_path):
    monkeypatch.syspath_prepend(str(broken_path))
    with pytest.raises(PluginError, match=r"'broken_import' \(dpok-plugin-broken 6\.6\.6\) failed at import"):
        load_registry(strict=True)


def test_cli_reports_failures_and_strict_exits_nonzero(broken_path):
    out = subprocess.run([*DPOK, "plugins", "--json"], env=_env(broken_path), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {f["plugin"] for f in data["failures"]} == {"broken_import", "broken_hook", "broken_spec", "broken_class"}
    assert {p["distribution"] for p in data["plugins"]} >= {"dpok-kernels", "dpok-divergences", "dpok-losses"}
    strict = subprocess.run([*DPOK, "plugins", "--strict"], env=_env(broken_path), capture_output=True, text=True)
    assert strict.returncode == 2
    assert "dpok-plugin-broken 6.6.6" in strict.stderr and "failed at import" in strict.stderr


def test_duplicate_names_are_listed_and_refused_by_name(monkeypatch, dup_path):
    """A clash does not take the registry down: other components load, the clashing name is refused clearly."""
    monkeypatch.syspath_prepend(str(dup_path))
    reg = load_registry()
    assert "rbf" in reg.names("kernel") and "linear" not in reg.names("kernel")
    assert [(k, n) for k, n in reg.clashes] == [("kernel", "linear")]
    with pytest.raises(DuplicateComponentError) as exc:
        reg.build("kernel", "linear")
    msg = str(exc.value)
    assert "2 kernel components are named 'linear'" in msg
    assert "dpok-kernels 0.1.0" in msg and "dpok-plugin-dup 1.0.0" in msg
    assert "DPOK_DISABLE_PLUGINS" in msg
    with pytest.raises(DuplicateComponentError):
        load_registry(strict=True)


def test_cli_lists_a_clash_and_refuses_the_clashing_name(monkeypatch, dup_path, tmp_path):
    from click.testing import CliRunner

    from dpok_framework.cli.main import cli

    monkeypatch.syspath_prepend(str(dup_path))
    out = CliRunner().invoke(cli, ["plugins"])
    assert out.exit_code == 0, out.output
    assert "CLASH kernel 'linear'" in out.output and "dpok-plugin-dup 1.0.0" in out.output
    cfg = tmp_path / "c.yaml"
    cfg.write_text("kernel: {name: linear, gamma: 0.1}\n")
    bad = CliRunner().invoke(cli, ["config", "validate", str(cfg)])
    assert bad.exit_code == 2 and "components are named 'linear'" in bad.output, bad.output


def test_duplicate_resolved_by_disabling_one(monkeypatch, dup_path):
    monkeypatch.syspath_prepend(str(dup_path))
    monkeypatch.setenv("DPOK_DISABLE_PLUGINS", "dpok-plugin-dup")
    reg = load_registry()
    assert reg.get("kernel", "linear").distribution == "dpok-kernels"
    assert "dup" in reg.disabled


@pytest.mark.parametrize("allow", ["dpok-losses", "dpok_losses", "DPOK_LOSSES , dpok-nonexistent"])
def test_allow_list_by_distribution_or_entry_point_name(monkeypatch, allow):
    monkeypatch.setenv("DPOK_PLUGINS", allow)
    reg = load_registry()
    assert set(reg.plugins) == {"dpok_losses"}
    assert reg.names("kernel") == [] and "sigmoid" in reg.names("loss")
    assert "dpok_kernels" in reg.disabled


def test_empty_allow_list_loads_nothing(monkeypatch):
    monkeypatch.setenv("DPOK_PLUGINS", "")
    reg = load_registry()
    assert reg.plugins == {} and all(reg.names(k) == [] for k in ("kernel", "divergence", "loss"))


def test_block_list(monkeypatch):
    monkeypatch.setenv("DPOK_DISABLE_PLUGINS", "dpok-divergences,dpoktest_demo")
    reg = load_registry()
    assert "kl" not in reg.names("divergence") and "dpoktest_laplacian" not in reg.names("kernel")
    assert "linear" in reg.names("kernel")
    assert sorted(reg.disabled) == ["dpok_divergences", "dpoktest_demo"]


def test_block_wins_over_allow(monkeypatch):
    monkeypatch.setenv("DPOK_PLUGINS", "dpok-kernels,dpok-losses")
    monkeypatch.setenv("DPOK_DISABLE_PLUGINS", "dpok-kernels")
    assert set(load_registry().plugins) == {"dpok_losses"}


def test_unknown_component_message_when_plugin_disabled(monkeypatch):
    monkeypatch.setenv("DPOK_DISABLE_PLUGINS", "dpok-losses")
    from dpok_framework.errors import UnknownComponentError

    with pytest.raises(UnknownComponentError, match="Available: none \\(is a plugin package installed\\?\\)"):
        load_registry().build("loss", "sigmoid")
