"""CONTRIBUTING.md's 'add a divergence in its own package' recipe, extracted verbatim and pip-installed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpok_framework.config import load_config, validate_components
from plugin_install import ROOT, recipe_files


def test_recipe_is_short_and_complete():
    files = recipe_files(ROOT / "CONTRIBUTING.md")
    assert set(files) == {"dpok-triangular/pyproject.toml", "dpok-triangular/dpok_triangular/__init__.py",
                          "dpok-triangular/tests/test_dpok_triangular_contract.py"}
    assert sum(len(c.splitlines()) for c in files.values()) < 60  # "under a page"


def test_recipe_package_is_discovered(registry):
    """Installed under unique names (dpoktest_*), so a user's real `dpok-triangular` cannot clash with it."""
    info = registry.get("divergence", "dpoktest_triangular")
    assert (info.distribution, info.version, info.plugin) == ("dpoktest-triangular", "0.1.0", "dpoktest_triangular")


def test_recipe_divergence_values_match_numpy(registry):
    d = registry.build("divergence", "dpoktest_triangular")
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(6), size=4), rng.dirichlet(np.ones(6), size=4)
    p[0, :2] = 0
    p[0] /= p[0].sum()
    want = ((p - q) ** 2 / (p + q)).sum(-1)
    got = d(torch.log(torch.tensor(p)), torch.log(torch.tensor(q)))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_recipe_divergence_usable_in_config(registry):
    validate_components(load_config(None, ["divergence.link=dpoktest_triangular"]), registry)
    validate_components(load_config(None, ["divergence.penalty=dpoktest_triangular", "divergence.alpha=0.1"]), registry)


def test_recipe_link_is_f_prime_of_exp(registry):
    d = registry.build("divergence", "dpoktest_triangular")
    r = torch.linspace(-30, 30, 61, dtype=torch.float64)
    u = r.exp()
    torch.testing.assert_close(d.link(r), 1 - 4 / (u + 1) ** 2)
    assert torch.isfinite(d.link(torch.tensor([1e4, -1e4]))).all()


def test_recipe_passes_the_contract(registry):
    from dpok_framework.testing import run_contract

    results = run_contract(registry, ["dpoktest-triangular"])
    assert results and all(r.ok for r in results), [r.describe() for r in results if not r.ok]
    assert {r.prop for r in results if r.status == "pass"} >= {"identity_and_axioms", "f_divergence_axioms", "link"}
