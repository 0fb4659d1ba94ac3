"""Registry: discovery through entry points of real installed packages, lookup, param validation."""

from __future__ import annotations

import pytest
import torch

from dpok_framework import hookimpl, load_registry
from dpok_framework.components import Divergence, Params
from dpok_framework.errors import ComponentParamsError, PluginError, UnknownComponentError

FIRST_PARTY = {"dpok_kernels": "dpok-kernels", "dpok_divergences": "dpok-divergences", "dpok_losses": "dpok-losses",
               "dpok_embedders": "dpok-embedders", "dpok_selection": "dpok-selection", "dpok_privacy": "dpok-privacy"}


def test_first_party_plugins_load_like_third_party(registry):
    for plugin, dist in FIRST_PARTY.items():
        info = registry.plugins[plugin]
        assert info.distribution == dist and info.version == "0.1.0"
    assert registry.get("kernel", "linear").distribution == "dpok-kernels"
    assert registry.get("divergence", "kl").plugin == "dpok_divergences"
    assert {"sigmoid", "ipo", "hinge", "robust"} <= set(registry.names("loss"))


def test_third_party_package_discovered_through_entry_points(registry):
    """tests/fixtures/dpoktest-plugin-demo was pip-installed (not pm.register'ed) by the session."""
    info = registry.get("kernel", "dpoktest_laplacian")
    assert (info.plugin, info.distribution, info.version) == ("dpoktest_demo", "dpoktest-plugin-demo", "0.3.1")
    assert registry.plugins["dpoktest_demo"].components == {"kernel": ["dpoktest_laplacian"]}
    assert registry.plugins["dpoktest_demo"].hooks == ["register_kernels"]
    k = registry.build("kernel", {"name": "dpoktest_laplacian", "params": {"sigma": 2.0}})
    x, y = torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 3.0]])
    assert k.log_paired(x, y).item() == pytest.approx(-1.5)


def test_build_from_name_or_spec(registry):
    assert registry.build("loss", "hinge").params.margin == 1.0
    assert registry.build("loss", {"name": "hinge", "params": {"margin": 2.5}}).params.margin == 2.5
    assert registry.build("loss", {"name": "hinge"}).params.margin == 1.0


def test_unknown_name_lists_available_and_suggests(registry):
    with pytest.raises(UnknownComponentError) as exc:
        registry.build("loss", "sigmiod")
    msg = str(exc.value)
    assert "unknown loss 'sigmiod'" in msg and "Did you mean 'sigmoid'?" in msg
    assert "hinge" in msg and "ipo" in msg and "robust" in msg


def test_unknown_kind():
    with pytest.raises(UnknownComponentError, match="kinds: kernel, divergence"):
        load_registry().names("kernal")


def test_param_wrong_type_names_field(registry):
    with pytest.raises(ComponentParamsError) as exc:
        registry.build("loss", {"name": "hinge", "params": {"margin": "wide"}})
    assert "loss.params.margin" in str(exc.value) and "valid number" in str(exc.value)


def test_param_unknown_field_names_field(registry):
    with pytest.raises(ComponentParamsError, match=r"loss\.params\.betta: Extra inputs are not permitted"):
        registry.build("loss", {"name": "sigmoid", "params": {"betta": 0.1}})


def test_malformed_spec(registry):
    with pytest.raises(ComponentParamsError, match="must be a name or"):
        registry.build("loss", {"nam": "sigmoid"})


class _Half(Params):
    scale: float = 0.5


class HalfKL(Divergence):
    """0.5 * KL, registered in-process (notebook-style) rather than through an entry point."""

    name = "half_kl"
    Params = _Half

    def forward(self, logp, logq):
        p = logp.exp()
        return self.params.scale * (p * torch.where(p > 0, logp - logq, 0.0)).sum(-1)


class _InlinePlugin:
    @hookimpl
    def register_divergences(self, register):
        register(HalfKL)


def test_register_plugin_in_process():
    reg = load_registry()
    reg.register_plugin(_InlinePlugin(), name="inline")
    d = reg.build("divergence", "half_kl")
    logp = torch.log(torch.tensor([[0.5, 0.5]]))
    logq = torch.log(torch.tensor([[0.25, 0.75]]))
    want = 0.5 * (0.5 * torch.log(torch.tensor(2.0)) + 0.5 * torch.log(torch.tensor(0.5 / 0.75)))
    assert d(logp, logq).item() == pytest.approx(want.item())
    assert reg.plugins["inline"].components == {"divergence": ["half_kl"]}


def test_register_rejects_non_component():
    class Bad:
        @hookimpl
        def register_losses(self, register):
            register(object)

    reg = load_registry(strict=True)
    with pytest.raises(PluginError, match="register a subclass of dpok_framework.components.loss.PreferenceLoss"):
        reg.register_plugin(Bad(), name="bad")


def test_json_inventory_is_serialisable(registry):
    import json

    data = json.loads(json.dumps(registry.to_json()))
    kernels = {c["name"]: c for c in data["components"]["kernel"]}
    assert kernels["dpoktest_laplacian"]["distribution"] == "dpoktest-plugin-demo"
    assert kernels["dpoktest_laplacian"]["params"]["properties"]["sigma"]["exclusiveMinimum"] == 0.0
