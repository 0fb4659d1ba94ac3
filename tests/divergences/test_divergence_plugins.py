"""The divergence plugin as a distribution: entry points, `dpok plugins`, config link/penalty checks."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dpok_framework import get_registry
from dpok_framework.cli.main import cli
from dpok_framework.config import RunConfig, validate_components
from dpok_framework.errors import ConfigError

NAMES = ["bhattacharyya", "f_divergence", "forward_kl", "hellinger", "js", "kl", "renyi", "wasserstein"]


def test_all_registered_from_the_distribution():
    reg = get_registry()
    for name in NAMES:
        info = reg.get("divergence", name)
        assert info.distribution == "dpok-divergences" and info.plugin == "dpok_divergences"


def test_dpok_plugins_lists_them():
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.strip().startswith("divergence"))
    assert all(n in line for n in NAMES)
    data = json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).output)
    described = {c["name"]: c for c in data["components"]["divergence"]}
    assert set(NAMES) <= set(described)
    assert described["renyi"]["params"]["properties"]["alpha"]["default"] == 0.5


def _cfg(**divergence) -> RunConfig:
    return RunConfig.model_validate({"divergence": divergence})


@pytest.mark.parametrize("link", [{"name": "kl"}, {"name": "forward_kl"}, {"name": "js"}, {"name": "hellinger"},
                                  {"name": "f_divergence", "params": {"f": "alpha", "alpha": 0.3}},
                                  {"name": "f_divergence", "params": {"f": "pearson_chi2"}}])
def test_links_are_accepted(link):
    validate_components(_cfg(link=link), get_registry())


@pytest.mark.parametrize("link", [{"name": "renyi"}, {"name": "bhattacharyya"}, {"name": "wasserstein"},
                                  {"name": "f_divergence", "params": {"f": "total_variation"}}])
def test_divergences_without_link_are_rejected_as_link_but_allowed_as_penalty(link):
    with pytest.raises(ConfigError, match="penalty"):
        validate_components(_cfg(link=link), get_registry())
    validate_components(_cfg(penalty=link, alpha=0.1), get_registry())


def test_bad_params_are_reported_with_their_path():
    with pytest.raises(ConfigError, match=r"divergence.penalty.params.alpha"):
        validate_components(_cfg(penalty={"name": "renyi", "params": {"alpha": 1.0}}, alpha=0.1), get_registry())
