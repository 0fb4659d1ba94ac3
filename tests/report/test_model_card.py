"""Model card and the held-out verdict with intervals (issue 16)."""

from __future__ import annotations

import json

import pytest
import yaml
from scipy.stats import binomtest

from dpok_framework.report.heldout import format_uncertainty, heldout_uncertainty
from dpok_framework.report.model_card import model_card, versions, write_model_card

SUMMARY = {"global_step": 41, "n_pairs": 120,
           "policy": {"accuracy": 0.675, "reward_accuracy": 0.7, "mean_reward_margin": 0.031},
           "reference": {"accuracy": 0.65}}


def test_heldout_intervals_and_verdict_match_scipy():
    u = heldout_uncertainty(SUMMARY)
    rows = {r["label"].split(" [")[0]: r for r in u["rows"]}
    for label, k in (("policy accuracy", 81), ("reference accuracy", 78), ("reward accuracy", 84)):
        ci = binomtest(k, 120).proportion_ci(method="exact")
        assert rows[label]["low"] == pytest.approx(ci.low, abs=1e-9)
        assert rows[label]["high"] == pytest.approx(ci.high, abs=1e-9)
    p = binomtest(84, 120, 0.5).pvalue
    assert u["sign_test"]["p_value"] == pytest.approx(p) and p < 0.05
    assert u["verdict"].startswith("the policy differs from the reference") and "84/120" in u["verdict"]
    weak = heldout_uncertainty({**SUMMARY, "n_pairs": 40, "policy": {**SUMMARY["policy"], "reward_accuracy": 0.6}})
    assert weak["verdict"].startswith("no detectable difference") and "24/40" in weak["verdict"]
    same = heldout_uncertainty({**SUMMARY, "policy": {"accuracy": 0.65, "reward_accuracy": 0.0,
                                                      "mean_reward_margin": 0.0}})
    assert same["verdict"].startswith("policy and reference are identical")
    assert heldout_uncertainty({"global_step": 3}) is None
    lines = format_uncertainty(u)
    assert lines[0].strip().startswith("policy accuracy") and lines[-1].startswith("Verdict: ")


def test_model_card_contents(tmp_path):
    cfg = {"model": {"path": "builtin:smollm2-135m-instruct"},
           "data": {"train": None, "eval": None, "eval_fraction": 0.3, "seed": 0, "max_length": 192,
                    "max_prompt_length": 96},
           "loss": {"name": "sigmoid", "beta": 0.1},
           "kernel": {"name": "hmk", "params": {"normalize": True}, "gamma": 0.5, "lr": 0.05,
                      "embedder": {"name": "policy_hidden", "params": {}}},
           "divergence": {"link": {"name": "js", "params": {}}, "penalty": None, "alpha": 0.0},
           "training": {"lr": 5e-5, "batch_size": 2, "gradient_accumulation_steps": 2, "seed": 0}}
    text = model_card(cfg, SUMMARY)
    front = yaml.safe_load(text.split("---")[1])
    assert front["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and front["license"] == "apache-2.0"
    assert "HH-RLHF" in text and "MIT" in text and "0.3 of the training pairs" in text
    assert "- loss: sigmoid, beta = 0.1" in text and "kernel: hmk (normalize=True), gamma = 0.5" in text
    assert "divergence link psi: js" in text and "kernel lr 0.05" in text
    assert "| reward accuracy [margin > 0] (TRL) | 0.700 | [0.6" in text and "**Verdict**: the policy differs" in text
    assert "120 held-out pairs, after 41 optimizer steps" in text
    assert "dpok-framework" in versions() and f"- dpok-framework {versions()['dpok-framework']}" in text
    assert any(k.startswith("dpok-kernels") or k.startswith("dpok_kernels") for k in versions())
    # written into model/ next to the weights; nothing without a saved model
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    (run / "summary.json").write_text(json.dumps(SUMMARY))
    assert write_model_card(run) is None
    (run / "model" / "config.json").write_text("{}")
    assert write_model_card(run).read_text() == text


def test_run_report_shows_the_heldout_verdict(tmp_path):
    from dpok_framework.report import build_report
    from report.test_report_render import make_run

    run = make_run(tmp_path)
    (run / "summary.json").write_text(json.dumps(SUMMARY))
    page = build_report(run, embed_images=False).read_text()
    assert "Held-out: policy vs reference (120 pairs)" in page
    assert 'data-verdict="heldout"><b>Verdict</b>: the policy differs from the reference' in page


def test_summary_with_metrics_under_training_names():
    """summary.json may carry reward accuracy / margin as eval.rewards/* instead of inside `policy`."""
    moved = {"global_step": 41, "n_pairs": 120, "policy": {"accuracy": 0.675}, "reference": {"accuracy": 0.65},
             "eval": {"rewards/accuracies": 0.7, "rewards/margins": 0.031}}
    assert heldout_uncertainty(moved) == heldout_uncertainty(SUMMARY)
