"""docs/plugins.md: every kind's minimal example is a working plugin module that passes the contract."""

from __future__ import annotations

import types

from dpok_framework import load_registry
from dpok_framework.kinds import KINDS
from dpok_framework.testing import run_contract
from plugin_install import ROOT, recipe_files


def test_every_example_passes_the_contract_and_admission():
    blocks = recipe_files(ROOT / "docs" / "plugins.md")
    assert set(blocks) == {f"example_{k}.py" for k in KINDS if k != "privacy_wrapper"}
    reg = load_registry()
    names = []
    for path, code in blocks.items():
        module = types.ModuleType(path[:-3])
        exec(compile(code, path, "exec"), module.__dict__)
        reg.register_plugin(module, name=path[:-3])
        names += [c.name for c in vars(module).values() if isinstance(c, type) and getattr(c, "name", "").startswith("doc_")]
    results = run_contract(reg, names)
    assert {r.kind for r in results} == set(KINDS) - {"privacy_wrapper"}
    assert all(r.ok for r in results), [r.describe() for r in results if not r.ok]
    assert all(r.status == "pass" for r in results if r.prop in ("random_features", "non_increasing",
                                                                   "documented_values", "value_and_permutation"))
    for kind in KINDS:
        for info in reg.infos(kind):
            if info.name.startswith("doc_"):
                reg.build(kind, info.name)
