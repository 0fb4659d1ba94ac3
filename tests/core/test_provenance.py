"""The run-directory record of which plugin, distribution and version supplied each component."""

from __future__ import annotations

import json

from dpok_framework.config import load_config
from dpok_framework.provenance import component_record, components_used, write_component_record


def test_record_names_every_component_with_its_distribution(registry, tmp_path):
    config = load_config(None, ["kernel.name=rbf", "kernel.gamma=0.1", "divergence.penalty=js",
                                "divergence.alpha=0.1", "loss.name=ipo"])
    assert [r for r, _, _ in components_used(config)] == ["loss", "divergence.link", "divergence.penalty", "kernel",
                                                          "kernel.embedder"]
    rec = component_record(config, registry)
    by_role = {c["role"]: c for c in rec["components"]}
    assert by_role["kernel"] == {"role": "kernel", "kind": "kernel", "name": "rbf", "plugin": "dpok_kernels",
                                 "distribution": "dpok-kernels", "version": "0.1.0"}
    assert by_role["divergence.penalty"]["distribution"] == "dpok-divergences"
    assert by_role["kernel.embedder"]["distribution"] == "dpok-embedders"
    assert rec["plugin_failures"] == [] and "clashes" in rec
    path = write_component_record(tmp_path / "run", config, registry)
    assert json.loads(path.read_text()) == json.loads(json.dumps(rec))
    assert write_component_record(tmp_path / "other", config, registry, enabled=False) is None


def test_record_keeps_plugin_load_failures(monkeypatch, tmp_path):
    from dpok_framework import load_registry
    from plugin_install import install_fixture

    monkeypatch.syspath_prepend(str(install_fixture("dpok-plugin-broken")))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = load_registry()
    rec = component_record(load_config(None, []), reg)
    assert {f["plugin"] for f in rec["plugin_failures"]} >= {"broken_import"}
    assert all(f["distribution"] == "dpok-plugin-broken" for f in rec["plugin_failures"])
