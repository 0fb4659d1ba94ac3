"""The privacy config section, its N-dependent checks and how its numbers reach the wrapper."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dpok_framework.components.privacy import PrivacyParams
from dpok_framework.config import PrivacyConfig, load_config, validate_components
from dpok_framework.config.privacy import build_privacy_wrapper, check_privacy_config
from dpok_framework.errors import ComponentParamsError, ConfigError

BASE = {"wrapper": "dp_covariance", "epsilon": 1.0, "delta": 1e-6}


@pytest.mark.parametrize("change,match", [
    ({"epsilon": 0.0}, "epsilon"),
    ({"epsilon": -1.0}, "epsilon"),
    ({"epsilon": float("inf")}, "epsilon"),
    ({"delta": 0.0}, "delta"),
    ({"delta": 1.0}, "delta"),
    ({"clip": 0.0}, "clip"),
    ({"max_epsilon": 0.5}, r"max_epsilon \(0.5\) must be >= privacy.epsilon \(1.0\)"),
    ({"params": {"epsilon": 2.0}}, "write it at the top of the privacy section"),
    ({"dp_sgd": True}, "privacy.dp_sgd: DP-SGD .* not available"),
    ({"bogus": 1}, "bogus"),
])
def test_invalid_section_is_rejected(change, match):
    with pytest.raises(ValidationError, match=match):
        PrivacyConfig(**{**BASE, **change})


def test_delta_must_be_below_one_over_n():
    cfg = PrivacyConfig(**{**BASE, "delta": 1e-3})
    check_privacy_config(cfg, 999)
    with pytest.raises(ConfigError, match=r"privacy.delta \(0.001\) must be < 1/N = 0.001 for N = 1000 records.*"
                                          r"use e.g. privacy.delta: 1e-05"):
        check_privacy_config(cfg, 1000)
    with pytest.raises(ConfigError, match="positive integer"):
        check_privacy_config(cfg, 0)


def test_top_level_numbers_reach_the_wrapper(registry):
    cfg = PrivacyConfig(**{**BASE, "clip": 2.5, "max_epsilon": 3.0, "params": {"releases": 4, "accountant": "prv"}})
    w = build_privacy_wrapper(cfg, 1000, registry)
    p = w.params
    assert (p.epsilon, p.delta, p.clip, p.max_epsilon, p.releases, p.accountant) == (1.0, 1e-6, 2.5, 3.0, 4, "prv")
    assert p.budget == 3.0 and w.row_sensitivity == pytest.approx(2 * 2.5**2)
    with pytest.raises(ConfigError, match="1/N"):
        build_privacy_wrapper(cfg, 10**6, registry)


def test_wrapper_params_are_validated_with_the_field_named(registry):
    cfg = PrivacyConfig(**{**BASE, "params": {"releases": 0}})
    with pytest.raises(ComponentParamsError, match=r"privacy.params.releases"):
        build_privacy_wrapper(cfg, 100, registry)
    with pytest.raises(ValidationError, match="max_epsilon"):
        PrivacyParams(epsilon=2.0, max_epsilon=1.0)


def test_run_config_validation_against_the_registry(registry):
    ok = load_config(None, ["kernel.name=rbf", "kernel.gamma=0.5", "privacy.wrapper=dp_covariance",
                            "privacy.epsilon=2", "privacy.delta=1e-6", "privacy.params.releases=3"])
    validate_components(ok.model_copy(update={"kernel": ok.kernel.model_copy(update={"name": "mahalanobis"})}),
                        registry)
    bad = load_config(None, ["kernel.name=mahalanobis", "kernel.gamma=0.5", "privacy.wrapper=dp_covariamce",
                             "privacy.epsilon=2", "privacy.delta=1e-6"])
    with pytest.raises(ConfigError, match="Did you mean 'dp_covariance'"):
        validate_components(bad, registry)


def test_every_registered_wrapper_builds_with_defaults(registry):
    for name, cls in registry.classes("privacy_wrapper").items():
        w = cls()
        assert isinstance(w.params, PrivacyParams), name
        assert w.spent() == (0.0, 0.0)


def test_dpok_config_validate_checks_the_built_wrapper_params(tmp_path):
    from click.testing import CliRunner

    from dpok_framework.cli.main import cli

    path = tmp_path / "c.yaml"
    path.write_text("kernel: {name: mahalanobis, gamma: 0.5}\n"
                    "privacy: {wrapper: dp_covariance, epsilon: 1, delta: 1.0e-6, params: {releases: 0}}\n")
    result = CliRunner().invoke(cli, ["config", "validate", str(path)])
    assert result.exit_code == 2
    assert "privacy.params.releases: Input should be greater than or equal to 1" in result.output
