"""Davies-Bouldin vs scikit-learn, preference metrics on hand-built log-probs, drift, metrics.jsonl reading."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import davies_bouldin_score

from dpok_framework.errors import DataError
from dpok_framework.evaluation import (PairGatherer, PairLogps, chosen_rejected_davies_bouldin, davies_bouldin,
                                       drift_summary, generalisation_drift, kernel_davies_bouldin,
                                       per_pair_table, preference_metrics, read_metrics)

# ---------------------------------------------------------------- Davies-Bouldin


@given(n=st.integers(6, 60), d=st.integers(1, 6), k=st.integers(2, 4), seed=st.integers(0, 10_000),
       shift=st.floats(0.0, 5.0))
def test_davies_bouldin_equals_sklearn(n, d, k, seed, shift):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    rng.shuffle(labels)
    x = rng.normal(size=(n, d)) + shift * labels[:, None]
    ref = davies_bouldin_score(x, labels)
    assert davies_bouldin(x, labels) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    # linear kernel in feature space = Euclidean (kernel trick), chunked
    xt = torch.tensor(x)
    assert kernel_davies_bouldin(lambda a, b: a @ b.T, xt, labels, chunk=7) == pytest.approx(ref, rel=1e-8, abs=1e-10)


def test_kernel_davies_bouldin_equals_sklearn_on_explicit_feature_map():
    """K(x, y) = phi(x) . phi(y) with phi = [x, x^2, 1]: kernel-space DB = sklearn on phi(x)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(150, 4))
    labels = rng.integers(0, 2, 150)
    x[labels == 1] += 1.5
    phi = np.concatenate([x, x ** 2, np.ones((150, 1))], 1)
    gram = lambda a, b: a @ b.T + (a ** 2) @ (b ** 2).T + 1.0  # noqa: E731
    got = kernel_davies_bouldin(gram, torch.tensor(x), labels, chunk=32)
    assert got == pytest.approx(davies_bouldin_score(phi, labels), rel=1e-9)


def test_kernel_davies_bouldin_rbf_against_random_fourier_features():
    """RBF Gram vs an explicit (approximate) RFF feature map: DB agrees within the approximation error."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 3, generator=g, dtype=torch.float64)
    labels = (torch.arange(120) % 2).numpy()
    x[labels == 1] += 1.0
    sigma = 1.5
    rbf = lambda a, b: torch.exp(-torch.cdist(a, b).square() / (2 * sigma ** 2))  # noqa: E731
    exact = kernel_davies_bouldin(rbf, x, labels)
    D = 20000
    w = torch.randn(3, D, generator=g, dtype=torch.float64) / sigma
    b = torch.rand(D, generator=g, dtype=torch.float64) * 2 * math.pi
    z = math.sqrt(2.0 / D) * torch.cos(x @ w + b)
    assert exact == pytest.approx(davies_bouldin_score(z.numpy(), labels), rel=0.03)


def test_chosen_rejected_davies_bouldin_and_conventions():
    a = torch.zeros(4, 2, dtype=torch.float64)
    b = torch.ones(5, 2, dtype=torch.float64)
    # zero scatter in both clusters -> 0 (sklearn convention)
    assert chosen_rejected_davies_bouldin(a, b) == 0.0
    x = torch.randn(10, 3, dtype=torch.float64)
    y = torch.randn(8, 3, dtype=torch.float64) + 2
    lab = np.r_[np.zeros(10), np.ones(8)]
    ref = davies_bouldin_score(torch.cat([x, y]).numpy(), lab)
    assert chosen_rejected_davies_bouldin(x, y) == pytest.approx(ref)
    assert chosen_rejected_davies_bouldin(x, y, gram_fn=lambda p, q: p @ q.T) == pytest.approx(ref)
    with pytest.raises(ValueError, match="at least 2 clusters"):
        davies_bouldin(np.zeros((3, 2)), [1, 1, 1])
    with pytest.raises(ValueError, match="n = len"):
        davies_bouldin(np.zeros((3, 2)), [0, 1])


# ---------------------------------------------------------------- preference metrics

def _pairs(pc, pr, rc, rr, **kw):
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return PairLogps(t(pc), t(pr), t(rc), t(rr), **{k: t(v) for k, v in kw.items()})


def test_preference_metrics_hand_built():
    # pair 0: policy moved chosen up by 2, rejected down by 1 -> margin beta*3
    # pair 1: policy moved rejected up by 1 -> margin -beta
    # pair 2: no change -> margin 0 (a tie, counted as wrong by accuracy, half by win rate)
    p = _pairs(pc=[-8.0, -10.0, -5.0], pr=[-13.0, -9.0, -6.0], rc=[-10.0, -10.0, -5.0], rr=[-12.0, -10.0, -6.0])
    m = preference_metrics(p, beta=0.5)
    assert m["num_pairs"] == 3
    assert m["rewards/accuracies"] == pytest.approx(1 / 3)
    assert m["rewards/margins"] == pytest.approx((1.5 - 0.5 + 0.0) / 3)
    assert m["rewards/margins_median"] == pytest.approx(0.0)
    assert m["rewards/chosen"] == pytest.approx(0.5 * (2 + 0 + 0) / 3)
    assert m["rewards/rejected"] == pytest.approx(0.5 * (-1 + 1 + 0) / 3)
    assert m["win_rate"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert m["logps_accuracy/policy"] == pytest.approx(2 / 3)   # -8>-13, -10<-9, -5>-6
    assert m["logps_accuracy/reference"] == pytest.approx(2 / 3)  # -10>-12, -10=-10 (no), -5>-6
    # pointwise F1: chosen rewards > 0: [1, 0, 0] (TP=1, FN=2); rejected rewards > 0: [0, 1, 0] (FP=1)
    assert m["precision"] == pytest.approx(0.5) and m["recall"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    margins = torch.tensor([1.5, -0.5, 0.0], dtype=torch.float64)
    assert m["loss/sigmoid"] == pytest.approx(float(-torch.nn.functional.logsigmoid(margins).mean()))
    assert "kernel/log_ratio" not in m


def test_kernel_log_ratio_statistics():
    p = _pairs(pc=[-1.0, -2.0], pr=[-1.0, -2.0], rc=[-1.0, -2.0], rr=[-1.0, -2.0], kernel_log_ratio=[0.4, -0.2])
    m = preference_metrics(p, beta=0.1)
    assert m["rewards/accuracies"] == 0.0
    assert m["kernel/log_ratio"] == pytest.approx(0.1)
    assert m["kernel/log_ratio_positive"] == pytest.approx(0.5)
    assert "margin/hybrid" not in m  # the objective's margin comes from the objective (heldout_metrics)
    cols = per_pair_table(p, beta=0.1)
    assert cols["kernel/log_ratio"].tolist() == pytest.approx([0.4, -0.2])


def test_heldout_metrics_average_every_per_pair_metric_and_derive_objective_accuracy():
    from dpok_framework.evaluation.heldout import heldout_metrics

    per_pair = {"objective/margin": torch.tensor([0.5, -0.1, 0.2, 0.0], dtype=torch.float64),
                "rewards/accuracies": torch.tensor([1.0, 0.0, 1.0, 0.0]), "my/new_metric": torch.tensor([1., 2, 3, 4])}
    m = heldout_metrics(per_pair, {"loss": 0.7})
    assert m["objective/margin"] == pytest.approx(0.15) and m["objective/accuracy"] == pytest.approx(0.5)
    assert m["rewards/accuracies"] == pytest.approx(0.5) and m["my/new_metric"] == pytest.approx(2.5)
    assert m["loss"] == pytest.approx(0.7)


def test_preference_metrics_errors():
    with pytest.raises(ValueError, match="one value per pair"):
        _pairs(pc=[1.0, 2.0], pr=[1.0], rc=[1.0, 2.0], rr=[1.0, 2.0])
    with pytest.raises(ValueError, match="empty"):
        preference_metrics(_pairs([], [], [], []), beta=0.1)
    with pytest.raises(ValueError, match="beta"):
        preference_metrics(_pairs([1.0], [1.0], [1.0], [1.0]), beta=0.0)
    with pytest.raises(ValueError, match="NaN"):
        preference_metrics(_pairs([float("nan")], [1.0], [1.0], [1.0]), beta=0.1)


def test_gatherer_single_process_with_accelerate():
    from accelerate import Accelerator

    acc = Accelerator(cpu=True)
    g = PairGatherer(acc)
    g.add({"index": torch.tensor([0, 1]), "x": torch.tensor([[1.0], [2.0]])})
    g.add({"index": torch.tensor([2]), "x": torch.tensor([[3.0]])})
    out = g.result()
    assert out["index"].tolist() == [0, 1, 2] and out["x"].shape == (3, 1) and len(g) == 3
    with pytest.raises(ValueError, match="first dimension"):
        g.add({"a": torch.zeros(2), "b": torch.zeros(3)})


# ---------------------------------------------------------------- drift and metrics.jsonl

def _write(tmp_path, recs, extra=""):
    p = tmp_path / "metrics.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in recs) + extra)
    return p


def test_drift_from_metrics(tmp_path):
    recs = [{"step": 1, "epoch": 0.1, "split": "train", "rewards/accuracies": 0.5},
            {"step": 2, "epoch": 0.2, "split": "train", "rewards/accuracies": 0.7},
            {"step": 2, "epoch": 0.2, "split": "eval", "rewards/accuracies": 0.55},
            {"step": 3, "epoch": 0.3, "split": "train", "rewards/accuracies": 0.9},
            {"step": 4, "epoch": 0.4, "split": "train", "rewards/accuracies": 1.0},
            {"step": 4, "epoch": 0.4, "split": "eval", "rewards/accuracies": 0.6},
            {"step": 5, "epoch": 0.5, "split": "eval", "rewards/accuracies": 0.5}]
    pts = generalisation_drift(read_metrics(_write(tmp_path, recs)))
    assert [p.step for p in pts] == [2, 4, 5]
    assert pts[0].train == pytest.approx(0.6) and pts[0].gap == pytest.approx(0.05)
    assert pts[1].train == pytest.approx(0.95) and pts[1].gap == pytest.approx(0.35)
    assert pts[2].train == pytest.approx(1.0) and pts[2].gap == pytest.approx(0.5)  # empty window: last train
    s = drift_summary(pts)
    assert s["final_gap"] == pytest.approx(0.5) and s["max_gap"] == pytest.approx(0.5)
    assert s["drift_slope"] == pytest.approx(np.polyfit([2, 4, 5], [0.05, 0.35, 0.5], 1)[0] * 1000)
    assert drift_summary([]) == {"final_gap": None, "max_gap": None, "drift_slope": None}


def test_read_metrics_validation(tmp_path):
    ok = {"step": 1, "split": "train", "loss": 0.5}
    assert read_metrics(_write(tmp_path, [ok], extra='{"step": 2, "spl'))[0]["loss"] == 0.5  # truncated tail ok
    with pytest.raises(DataError, match=r"metrics.jsonl:1: not valid JSON"):
        read_metrics(_write(tmp_path, [], extra="{oops\n" + json.dumps(ok) + "\n"))
    with pytest.raises(DataError, match=r":2: field 'step' must be an integer"):
        read_metrics(_write(tmp_path, [ok, {"step": "x", "split": "train"}]))
    with pytest.raises(DataError, match="'split' must be"):
        read_metrics(_write(tmp_path, [{"step": 1, "split": "test"}]))
    with pytest.raises(DataError, match="metrics file not found"):
        read_metrics(tmp_path / "nope")


@pytest.mark.parametrize("name,params,method", [("rbf", {"sigma": 1.5}, "rff"), ("polynomial", {}, "nystrom")])
def test_kernel_db_switches_to_feature_map_for_large_sets(registry, name, params, method):
    """Above exact_max_points evaluate uses RFF (shift-invariant) or Nystrom; it agrees with the exact score."""
    from dpok_framework.evaluation.evaluate import kernel_davies_bouldin_score

    g = torch.Generator().manual_seed(0)
    pos = torch.nn.functional.normalize(torch.randn(150, 4, generator=g) + 0.8, dim=-1)
    neg = torch.nn.functional.normalize(torch.randn(150, 4, generator=g) - 0.8, dim=-1)
    kernel = registry.build("kernel", {"name": name, "params": params})
    kernel.fit(torch.cat([pos, neg]))
    before = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in kernel.state_dict().items()}
    exact, m0 = kernel_davies_bouldin_score(kernel, pos, neg)
    approx, m1 = kernel_davies_bouldin_score(kernel, pos, neg, exact_max_points=100, num_features=2048)
    assert m0 == "exact" and m1.startswith(method)
    assert approx == pytest.approx(exact, rel=0.05)
    # the caller's kernel is left as it was (the score works on a float64 CPU copy)
    after = kernel.state_dict()
    assert set(after) == set(before)
    for key, v in before.items():
        assert (v.dtype == after[key].dtype and torch.equal(v, after[key])) if isinstance(v, torch.Tensor) \
            else v == after[key]
