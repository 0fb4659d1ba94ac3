"""Every first-party distribution passes its own contract: `dpok plugins check` (fast profile) exits 0.

Run through the runner's Python API with the CLI's default profile and seed (the same checks, params
draws and inputs as the command; spawning the CLI would add its start-up time). ~30-45 s on 2 cores, most
of it wasserstein's float64 gradcheck through the Sinkhorn iterations.
"""

from __future__ import annotations

from pathlib import Path

from dpok_framework import get_registry
from dpok_framework.testing import run_contract
from dpok_framework.testing.contract import CHECKS

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def _first_party(registry) -> list[str]:
    """The in-repo distributions (plugins/*) that register a component kind the contract checks."""
    ours = {p.name for p in PLUGINS.iterdir() if (p / "pyproject.toml").is_file()}
    dists = {i.distribution for kind in CHECKS for i in registry.infos(kind)}
    return sorted(d for d in dists if d in ours)


def test_first_party_distributions_pass_the_fast_contract():
    registry = get_registry()
    dists = _first_party(registry)
    assert {"dpok-divergences", "dpok-kernels", "dpok-losses", "dpok-selection"} <= set(dists), dists
    results = run_contract(registry, dists, profile="fast", seed=0)
    bad = [r.describe() for r in results if r.status in ("fail", "error")]
    assert not bad, "\n".join(bad)
    assert sum(r.status == "pass" for r in results) >= 100
