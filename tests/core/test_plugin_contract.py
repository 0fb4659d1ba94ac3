"""The plugin author kit end to end: an outside plugin package, installed with pip (no dpok checkout on the
path), checked by the pytest plugin / the three-line test module and by `dpok plugins check`; runtime
admission refuses the same bad components, and selection (`penalty: auto`, `dpok select`) never picks them.

tests/fixtures/dpoktest-contract-bad breaks one property per component; dpoktest-contract-good is correct.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dpok_framework import load_registry
from dpok_framework.admission import AdmissionError
from dpok_framework.config import load_config
from dpok_framework.selection import DivergenceEvidence, KernelEvidence, Selector, resolve_config
from dpok_framework.testing.samples import random_log_dists
from plugin_install import install_fixture

BAD = {  # component -> (kind, the property the failure must name)
    "dpoktest_anti_rbf": ("kernel", "gram_psd"),
    "dpoktest_bad_sampler": ("kernel", "random_features"),
    "dpoktest_bad_log_diag": ("kernel", "log_diag"),
    "dpoktest_kl_minus": ("divergence", "identity"),
    "dpoktest_kl_symmetric": ("divergence", "symmetric"),
    "dpoktest_increasing": ("loss", "non_increasing"),
    "dpoktest_hellinger_overflow": ("divergence", "link_finite"),  # finite on [-20, 20], inf at r = -1e4
    "dpoktest_nan_at_inf": ("loss", "margin_limits"),
}
GOOD = {"dpoktest_gauss": "kernel", "dpoktest_hellinger": "divergence", "dpoktest_logistic": "loss"}


@pytest.fixture(scope="module")
def bad_path() -> Path:
    return install_fixture("dpoktest-contract-bad")


@pytest.fixture(scope="module")
def good_path() -> Path:
    return install_fixture("dpoktest-contract-good")


def _isolated(*paths: Path) -> dict[str, str]:
    """Only the installed packages: the fixture targets on PYTHONPATH, no tests/ directory, no DPOK_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPOK_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(map(str, paths))
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def test_pytest_plugin_is_registered_by_the_distribution():
    eps = [ep for ep in md.distribution("dpok-framework").entry_points if ep.group == "pytest11"]
    assert [(ep.name, ep.value) for ep in eps] == [("dpok", "_dpok_pytestplugin")], (
        "reinstall dpok-framework (pip install -e .) so the pytest11 entry point is registered")


def test_a_pytest_session_without_the_option_imports_neither_dpok_nor_torch(tmp_path):
    """The pytest11 plugin loads in every pytest session of an environment where dpok is installed; without
    --dpok-contract it must not import dpok_framework (and with it torch: ~1.5 s per session)."""
    (tmp_path / "test_modules.py").write_text(
        "import sys\n\ndef test_nothing_heavy_is_imported():\n"
        "    assert 'dpok_framework' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)],
                         cwd=tmp_path, env=_isolated(), capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 0 and "1 passed" in text, text[-3000:]
    assert "--dpok-contract" in subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=tmp_path,
                                               env=_isolated(), capture_output=True, text=True, timeout=120).stdout


def test_one_liner_and_three_line_module_in_an_outside_package(tmp_path, bad_path, good_path):
    """`pytest --dpok-contract=DIST` fails naming component and property for each bad component; the documented
    three-line module passes for the correct ones; both in a directory with nothing but installed packages."""
    (tmp_path / "test_good_contract.py").write_text(
        'from dpok_framework.testing import contract_tests\n\ntest_contract = contract_tests("dpoktest-contract-good")\n')
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
                          "--dpok-contract=dpoktest-contract-bad", str(tmp_path)],
                         cwd=tmp_path, env=_isolated(bad_path, good_path), capture_output=True, text=True, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    for name, (kind, prop) in BAD.items():
        assert f"{kind} '{name}' (dpoktest-contract-bad 0.0.1) violates {prop}" in text, (name, text[-3000:])
    good_lines = [line for line in text.splitlines() if "test_good_contract.py::test_contract[" in line]
    assert len(good_lines) >= 15 and all(line.startswith("PASSED") for line in good_lines), good_lines
    for name in GOOD:
        assert any(name in line for line in good_lines)


def test_plugins_check_cli_refuses_the_same(bad_path, good_path):
    out = subprocess.run([sys.executable, "-m", "dpok_framework.cli", "plugins", "check", "dpoktest-contract-bad",
                          *GOOD], env=_isolated(bad_path, good_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr
    for name, (kind, prop) in BAD.items():
        assert f"VIOLATION {kind} '{name}' (dpoktest-contract-bad 0.0.1) violates {prop}" in out.stderr, name
    assert "property" in out.stdout and "FAIL" in out.stdout  # the table
    for name in GOOD:  # in the table, never violating
        assert name in out.stdout and f"'{name}'" not in out.stderr


@pytest.fixture
def contract_registry(monkeypatch, bad_path, good_path):
    monkeypatch.syspath_prepend(str(bad_path))
    monkeypatch.syspath_prepend(str(good_path))
    return load_registry()


def test_runtime_admission_refuses_the_same_components_fast(contract_registry):
    for name, (kind, prop) in BAD.items():
        start = time.perf_counter()
        with pytest.raises(AdmissionError) as exc:
            contract_registry.build(kind, name)
        assert time.perf_counter() - start < 1.0, name  # measured ~0.01-0.1 s
        assert exc.value.prop == prop and name in str(exc.value) and "dpoktest-contract-bad 0.0.1" in str(exc.value)
    for name, kind in GOOD.items():
        contract_registry.build(kind, name)


def test_selection_excludes_them_and_auto_never_picks_them(contract_registry):
    sel = Selector(contract_registry)
    logp, logq = random_log_dists(2, 24, 8, "none", seed=0)
    ev = DivergenceEvidence(logp, logq, seed=0)
    names = ["dpoktest_kl_minus", "dpoktest_kl_symmetric", "kl", "hellinger"]
    result = sel.select(None, ev, divergences=names)
    table = result.divergences
    for bad in names[:2]:
        row = table.row(bad)
        assert row.excluded and row.rank is None and not row.eligible and BAD[bad][1] in row.excluded
    assert result.divergence["name"] in ("kl", "hellinger")
    assert "excluded (failed admission): dpoktest_kl_minus" in result.reason
    assert "excluded: refused divergence 'dpoktest_kl_symmetric'" in table.format()
    config = load_config(None, ["divergence.penalty=auto", "divergence.alpha=0.1"])
    assert resolve_config(config, result).divergence.penalty.name in ("kl", "hellinger")

    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g, dtype=torch.float64)
    kev = KernelEvidence(x, x + 0.3 * torch.randn(32, 4, generator=g, dtype=torch.float64),
                         x + torch.randn(32, 4, generator=g, dtype=torch.float64))
    kt = sel.rank("kernel", kev, candidates=["dpoktest_anti_rbf", "dpoktest_bad_sampler", "dpoktest_bad_log_diag",
                                             "rbf"])
    assert kt.best.name == "rbf" and all(kt.row(n).excluded for n in BAD if BAD[n][0] == "kernel")


def test_admission_can_be_skipped_explicitly_by_name(contract_registry, monkeypatch):
    monkeypatch.setenv("DPOK_SKIP_ADMISSION", "dpoktest_kl_minus")
    contract_registry.build("divergence", "dpoktest_kl_minus")
    with pytest.raises(AdmissionError):
        contract_registry.build("divergence", "dpoktest_kl_symmetric")
