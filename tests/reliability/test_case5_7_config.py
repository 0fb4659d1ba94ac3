"""Issue cases 5 and 7: configurations that validated and then did nothing, crashed, or wrote inf weights."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from dpok_framework.cli.main import cli
from dpok_framework.config import config_from_dict, load_config, read_config_file, validate_components
from dpok_framework.config.data import check_position_limit
from dpok_framework.errors import ConfigError

# --- case 5: non-finite numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("training.lr", math.inf), ("training.lr", math.nan), ("loss.beta", math.inf), ("training.max_grad_norm", math.inf),
    ("training.weight_decay", math.nan), ("training.max_time_s", math.inf), ("kernel.entropy_weight", math.inf),
    ("divergence.alpha", math.inf), ("selection.weights.tat", math.inf),
])
def test_case5_non_finite_numbers_are_rejected_naming_the_field(field, value):
    section, *rest = field.split(".")
    node: dict = {}
    cur = node
    for part in rest[:-1]:
        cur = cur.setdefault(part, {})
    cur[rest[-1]] = value
    with pytest.raises(ConfigError, match=rf"{field}: Input should be a finite number"):
        config_from_dict({section: node})


def test_case5_non_finite_gamma_and_yaml_inf_spelling(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("kernel: {name: rbf, gamma: .inf}\n")
    with pytest.raises(ConfigError, match="kernel.gamma: Input should be a finite number"):
        load_config(path)
    with pytest.raises(ConfigError, match="training.lr: Input should be a finite number"):
        load_config(None, ["training.lr=.inf"])


def test_case5_non_finite_component_params_are_rejected(registry):
    cfg = config_from_dict({"kernel": {"name": "rbf", "gamma": 0.5, "params": {"sigma": math.inf}}})
    with pytest.raises(ConfigError, match="kernel.params.sigma"):
        validate_components(cfg, registry)


# --- case 7: configurations that validate and then do nothing or crash -------------------------------------


@pytest.mark.parametrize("name", ["rbf", "auto"])
def test_case7_kernel_with_gamma_zero_is_rejected_as_a_no_op(name):
    with pytest.raises(ConfigError, match=rf"kernel.name is '{name}' but kernel.gamma is 0"):
        config_from_dict({"kernel": {"name": name}})
    config_from_dict({"kernel": {"name": None, "gamma": 0.0}})  # no kernel: plain DPO, fine
    config_from_dict({"kernel": {"name": name, "gamma": 0.3}})


def test_case7_entropy_weight_on_a_kernel_without_regulariser(registry):
    cfg = config_from_dict({"kernel": {"name": "rbf", "gamma": 0.5, "entropy_weight": 0.1}})
    with pytest.raises(ConfigError, match="kernel.entropy_weight: 'rbf' has no regulariser"):
        validate_components(cfg, registry)
    validate_components(config_from_dict({"kernel": {"name": "hmk", "gamma": 0.5, "entropy_weight": 0.1}}), registry)


@pytest.mark.parametrize("kernel", [{"name": "linear"},
                                    {"name": "polynomial", "params": {"normalize": False}}])
def test_case7_kernel_that_can_be_non_positive_with_gamma(registry, kernel):
    cfg = config_from_dict({"kernel": {**kernel, "gamma": 0.5}})
    with pytest.raises(ConfigError, match=rf"kernel: '{kernel['name']}' \(with these params\) can be <= 0"):
        validate_components(cfg, registry)
    # the positive configuration of the same kernel family passes (instance-level strictly_positive)
    validate_components(config_from_dict({"kernel": {"name": "polynomial", "gamma": 0.5}}), registry)


@pytest.mark.parametrize("section", ["training", "data", "selection"])
def test_case7_negative_seed_is_rejected(section):
    with pytest.raises(ConfigError, match=rf"{section}.seed: Input should be greater than or equal to 0"):
        config_from_dict({section: {"seed": -1}})


def test_case7_unknown_tracker_is_rejected_at_load():
    with pytest.raises(ConfigError, match=r"training.report_to: .*unknown tracker\(s\) \['bogus'\]"):
        config_from_dict({"training": {"report_to": ["bogus"]}})
    config_from_dict({"training": {"report_to": ["all"]}})


def test_case7_missing_tracker_package_is_an_error_at_validate(registry, monkeypatch):
    import dpok_framework.config.trackers as trackers

    monkeypatch.setattr(trackers, "installed_trackers", lambda: ["tensorboard"])
    cfg = config_from_dict({"training": {"report_to": ["wandb"]}})
    with pytest.raises(ConfigError, match=r"training.report_to: tracker\(s\) \['wandb'\] are not installed"):
        validate_components(cfg, registry)
    validate_components(config_from_dict({"training": {"report_to": ["tensorboard", "all"]}}), registry)


def test_case7_dpok_config_validate_reports_the_missing_tracker(tmp_path, monkeypatch):
    import dpok_framework.config.trackers as trackers

    monkeypatch.setattr(trackers, "installed_trackers", lambda: [])
    path = tmp_path / "c.yaml"
    path.write_text("training: {report_to: [wandb]}\n")
    res = CliRunner().invoke(cli, ["config", "validate", str(path)])
    assert res.exit_code == 2 and "training.report_to" in res.output and "Traceback" not in res.output


def test_case7_duplicate_yaml_keys_name_key_file_and_line(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("training:\n  lr: 1.0e-5\n  batch_size: 2\n  lr: 0.5\n")
    with pytest.raises(ConfigError, match=rf"{path}: line 4: duplicate key 'lr' \(first set on line 2\)"):
        read_config_file(path)
    top = tmp_path / "top.yaml"
    top.write_text("training: {lr: 1.0e-5}\ntraining: {lr: 0.5}\n")
    with pytest.raises(ConfigError, match="line 2: duplicate key 'training'"):
        read_config_file(top)
    js = tmp_path / "run.json"
    js.write_text('{"training": {"lr": 1e-5, "lr": 0.5}}')
    with pytest.raises(ConfigError, match=rf"{js}: duplicate key\(s\) \['lr'\]"):
        read_config_file(js)


def test_case7_max_length_above_the_position_limit(tmp_path):
    from transformers import GPT2Config, LlamaConfig

    data = config_from_dict({"data": {"max_length": 512, "max_prompt_length": 64}}).data
    with pytest.raises(ConfigError, match=r"data.max_length \(512\) exceeds the model 'm'.s position limit \(256"):
        check_position_limit(data, GPT2Config(n_positions=256), "m")
    with pytest.raises(ConfigError, match=r"data.max_length \(512\).*\(128 tokens\)"):
        check_position_limit(data, LlamaConfig(max_position_embeddings=128))
    check_position_limit(data, GPT2Config(n_positions=1024))
