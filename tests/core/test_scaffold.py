"""`dpok plugins new --kind KIND NAME` for every kind: the generated package passes its own contract tests."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from dpok_framework import load_registry
from dpok_framework.kinds import KINDS
from dpok_framework.scaffold import package_names, write_plugin
from dpok_framework.testing import run_contract
from plugin_install import pip_install_target

NAMES = {kind: f"dpoktest_scaffold_{kind}" for kind in KINDS}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("scaffold")
    return {kind: write_plugin(kind, name, root) for kind, name in NAMES.items()}


def test_every_kind_writes_pyproject_entry_point_skeleton_and_contract_test(generated):
    for kind, pkg in generated.items():
        dist, module, _ = package_names(NAMES[kind])
        assert pkg.name == dist
        pyproject = (pkg / "pyproject.toml").read_text()
        assert f'{NAMES[kind]} = "{module}"' in pyproject and "[project.entry-points.dpok]" in pyproject
        assert f'contract_tests("{dist}")' in (pkg / "tests" / f"test_{module}_contract.py").read_text()
        assert '"""' in (pkg / module / "__init__.py").read_text()


def test_every_generated_component_passes_the_contract_in_process(generated, monkeypatch):
    reg = load_registry()
    for kind, pkg in generated.items():
        monkeypatch.syspath_prepend(str(pkg))
        module = importlib.import_module(package_names(NAMES[kind])[1])
        reg.register_plugin(module, name=f"scaffold-{kind}")
    results = run_contract(reg, list(NAMES.values()))
    assert {r.kind for r in results} == set(KINDS)
    assert all(r.ok for r in results), [r.describe() for r in results if not r.ok]
    for kind, name in NAMES.items():  # admitted at run time too
        reg.build(kind, name)


@pytest.mark.slow
def test_generated_packages_install_and_pass_their_own_tests(generated, tmp_path):
    target = pip_install_target(list(generated.values()), "scaffold")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPOK_")}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          *[str(p / "tests") for p in generated.values()]],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "failed" not in out.stdout
