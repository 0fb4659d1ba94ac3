"""Run configuration: defaults, YAML/JSON loading, --set overrides, errors naming field and file, schema."""

from __future__ import annotations

import json

import pytest
import yaml

from dpok_framework import load_registry
from dpok_framework.config import RunConfig, apply_overrides, dump_config, load_config, validate_components
from dpok_framework.errors import ConfigError


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data))
    return path


def test_defaults_are_plain_dpo():
    cfg = RunConfig()
    assert cfg.loss.name == "sigmoid" and cfg.loss.beta == 0.1
    assert cfg.divergence.link.name == "kl" and cfg.divergence.penalty is None and cfg.divergence.alpha == 0
    assert cfg.kernel.name is None and cfg.kernel.gamma == 0
    assert cfg.model.path.startswith("builtin:")


def test_load_yaml_and_json_with_shorthand_specs(tmp_path):
    data = {"kernel": {"name": "rbf", "params": {"sigma": 0.7}, "gamma": 0.3},
            "divergence": {"link": "kl", "penalty": "js", "alpha": 0.05},
            "loss": {"name": "ipo", "beta": 0.2}, "training": {"lr": 1e-5, "batch_size": 2}}
    for name in ("run.yaml", "run.json"):
        cfg = load_config(write(tmp_path, name, data))
        assert cfg.kernel.params == {"sigma": 0.7} and cfg.kernel.gamma == 0.3
        assert cfg.divergence.penalty.name == "js" and cfg.divergence.penalty.params == {}
        assert cfg.loss.name == "ipo" and cfg.loss.beta == 0.2 and cfg.training.batch_size == 2


def test_overrides_parse_types_and_create_nested_keys(tmp_path):
    path = write(tmp_path, "run.yaml", {"kernel": "rbf"} if False else {"kernel": {"name": "rbf"}})
    cfg = load_config(path, ["training.lr=1e-5", "kernel.gamma=0.25", "kernel.params.sigma=median",
                             "training.report_to=[tensorboard]", "data.max_samples=100",
                             "divergence.link.params.alpha=0.5", "output.overwrite=true"])
    assert cfg.training.lr == 1e-5 and cfg.kernel.gamma == 0.25
    assert cfg.kernel.params == {"sigma": "median"} and cfg.training.report_to == ["tensorboard"]
    assert cfg.data.max_samples == 100 and cfg.divergence.link.params == {"alpha": 0.5}
    assert cfg.output.overwrite is True


def test_override_expands_shorthand_component():
    data = apply_overrides({"divergence": {"link": "kl"}}, ["divergence.link.params.x=1"])
    assert data == {"divergence": {"link": {"name": "kl", "params": {"x": 1}}}}


def test_override_into_null_section():
    cfg = load_config(None, ["kernel.name=rbf", "kernel.gamma=0.5", "privacy.wrapper=dp_covariance",
                             "privacy.epsilon=2", "privacy.delta=1e-6"])
    assert cfg.privacy.wrapper == "dp_covariance" and cfg.privacy.epsilon == 2.0


@pytest.mark.parametrize("bad", ["training.lr", "=3", "  =x"])
def test_malformed_override(bad):
    with pytest.raises(ConfigError, match="--set expects KEY=VALUE"):
        load_config(None, [bad])


def test_typo_names_field_and_file(tmp_path):
    path = write(tmp_path, "typo.yaml", {"training": {"learning_rate": 1e-5}})
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(path) in str(exc.value) and "training.learning_rate: unknown field 'learning_rate'" in str(exc.value)


def test_unknown_section_and_wrong_type(tmp_path):
    path = write(tmp_path, "bad.yaml", {"trainig": {}, "training": {"batch_size": "four"}})
    msg = str(pytest.raises(ConfigError, load_config, path).value)
    assert "trainig: unknown field 'trainig'" in msg and "training.batch_size: Input should be a valid integer" in msg


def test_override_error_is_reported_like_file_error(tmp_path):
    path = write(tmp_path, "ok.yaml", {})
    with pytest.raises(ConfigError, match=r"training\.lr: Input should be greater than 0"):
        load_config(path, ["training.lr=-1"])


@pytest.mark.parametrize("overrides,needle", [
    (["kernel.gamma=0.5"], "kernel.gamma > 0 needs a kernel"),
    (["divergence.alpha=0.1"], "divergence.alpha > 0 needs divergence.penalty"),
    (["divergence.penalty=js"], "would have no effect"),
    (["divergence.penalty=js", "divergence.alpha=0.1", "training.precompute_ref_log_probs=true"],
     "needs the reference's full token distributions"),
    (["data.max_prompt_length=600", "data.max_length=512"], "max_prompt_length (600) must be smaller"),
    (["privacy.wrapper=dp_covariance", "privacy.epsilon=1", "privacy.delta=1e-5"], "no kernel is configured"),
])
def test_cross_field_rules_are_actionable(overrides, needle):
    with pytest.raises(ConfigError) as exc:
        load_config(None, overrides)
    assert needle in str(exc.value)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("training: {lr: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "broken.yaml")


def test_dump_round_trips(tmp_path):
    cfg = load_config(None, ["kernel.name=rbf", "kernel.gamma=0.1", "training.lr=2e-6"])
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


def test_schema_has_every_section_and_forbids_extras():
    schema = RunConfig.model_json_schema()
    assert set(schema["properties"]) >= {"model", "data", "loss", "kernel", "divergence", "training", "privacy",
                                         "output", "selection"}
    assert schema["additionalProperties"] is False


def test_component_validation_against_registry():
    reg = load_registry()
    validate_components(load_config(None, ["loss.name=hinge", "loss.params.margin=2"]), reg)
    with pytest.raises(ConfigError) as exc:
        validate_components(load_config(None, ["loss.name=sigmiod"]), reg, source="run.yaml")
    assert "in run.yaml" in str(exc.value) and "Did you mean 'sigmoid'?" in str(exc.value)
    with pytest.raises(ConfigError, match=r"loss\.params\.margin: Input should be greater than 0"):
        validate_components(load_config(None, ["loss.name=hinge", "loss.params.margin=-1"]), reg)


def test_divergence_without_link_is_rejected_as_link():
    from dpok_framework import hookimpl
    from dpok_framework.components import Divergence

    class NoLink(Divergence):
        name = "nolink_test"

        def forward(self, logp, logq):
            return (logp.exp() - logq.exp()).abs().sum(-1) / 2

    class Plugin:
        @hookimpl
        def register_divergences(self, register):
            register(NoLink)

    reg = load_registry()
    reg.register_plugin(Plugin(), name="nolink")
    with pytest.raises(ConfigError) as exc:
        validate_components(load_config(None, ["divergence.link=nolink_test"]), reg)
    msg = str(exc.value)
    assert "'nolink_test' has no f-DPO link" in msg and "Use it as divergence.penalty" in msg and "kl" in msg
    validate_components(load_config(None, ["divergence.penalty=nolink_test", "divergence.alpha=0.1"]), reg)
