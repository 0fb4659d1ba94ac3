"""The kernels plugin registers through the `dpok` entry point and shows up in `dpok plugins`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dpok_framework.cli.main import cli

FIRST_PARTY = {"linear", "polynomial", "rbf", "spectral", "mahalanobis", "hmk"}


def test_registered_through_the_entry_point(registry):
    assert "dpok_kernels" in registry.plugins
    info = registry.plugins["dpok_kernels"]
    assert info.distribution == "dpok-kernels"
    assert set(info.components["kernel"]) == FIRST_PARTY


def test_listed_by_dpok_plugins():
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if ln.strip().startswith("kernel") and "rbf" in ln)
    assert {n.strip() for n in line.split(None, 1)[1].split(",")} >= FIRST_PARTY
    out = CliRunner().invoke(cli, ["plugins", "--json"])
    data = json.loads(out.output)
    kernels = {c["name"]: c for c in data["components"]["kernel"]}
    assert FIRST_PARTY <= set(kernels)
    assert kernels["rbf"]["distribution"] == "dpok-kernels"
    assert "sigma" in kernels["rbf"]["params"]["properties"]
    assert "learn_weights" in kernels["hmk"]["params"]["properties"]


def test_flags_the_framework_reads(registry):
    classes = registry.classes("kernel")
    assert {n for n in FIRST_PARTY if classes[n].shift_invariant} == {"rbf", "spectral", "mahalanobis"}
    assert {n for n in FIRST_PARTY if classes[n].uses_covariance} == {"mahalanobis", "hmk"}
    assert {n for n in FIRST_PARTY if not classes[n].strictly_positive} == {"linear"}
    assert {classes[n].group for n in ("rbf", "polynomial")} == {"local"}
    assert {classes[n].group for n in ("spectral", "mahalanobis")} == {"global"}
