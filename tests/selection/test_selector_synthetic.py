"""The selector picks the expected family on synthetic data built so that the right answer is known."""

from __future__ import annotations

import pytest
import torch

from dpok_framework.selection import DivergenceEvidence, KernelEvidence, Selector

from .synthetic import disjoint_supports, heavy_tailed_drift, local_boundary_triplets


@pytest.fixture(scope="module")
def selector():
    from dpok_framework import get_registry

    return Selector(get_registry())


def _rank(table, name):
    row = table.row(name)
    return row.rank if row.rank is not None else 10 ** 6


def test_local_nonlinear_boundary_rbf_beats_linear_and_polynomial(selector):
    x, pos, neg = local_boundary_triplets()
    table = selector.rank("kernel", KernelEvidence(x, pos, neg))
    assert _rank(table, "rbf") < _rank(table, "linear")
    assert _rank(table, "rbf") < _rank(table, "polynomial")
    best = table.best
    assert type(best).__name__ == "CandidateRow" and best.name in ("rbf", "spectral", "mahalanobis", "hmk")
    # the winner is a distance-based (shift-invariant or mixture of such) kernel and orders every triplet
    assert best.values["tat"].value > 0.95
    # the inner-product kernels are at chance (linear) or anti-aligned and vetoed (cosine polynomial)
    assert abs(table.row("linear").values["tat"].value - 0.5) < 0.1
    assert table.row("polynomial").ruled_out and "anti-aligned" in table.row("polynomial").ruled_out


def test_heavy_tailed_drift_favours_a_tail_robust_divergence_over_kl(selector):
    logp, logq = heavy_tailed_drift()
    ev = DivergenceEvidence(logp, logq)
    table = selector.rank("divergence", ev)
    assert table.data_statistics["kurtosis"]["log_ratio_excess_kurtosis"] > 3.0  # the data are heavy-tailed
    robust = {"hellinger", "js", "wasserstein", "renyi", "bhattacharyya"}
    assert table.best.name in robust
    assert _rank(table, "kl") > _rank(table, table.best.name)
    # the kurtosis metric itself sees KL's values as heavier-tailed than the bounded divergences'
    kurt = {r.name: r.values["kurtosis"].value for r in table.rows if r.eligible}
    assert kurt["kl"] > kurt["hellinger"] and kurt["kl"] > kurt["js"]


def test_disjoint_supports_rule_out_kl(selector):
    logp, logq = disjoint_supports()
    result = selector.select(divergence_evidence=DivergenceEvidence(logp, logq))
    table = result.divergences
    kl = table.row("kl")
    assert kl.ruled_out is not None and "+inf" in kl.ruled_out and kl.rank is None
    for name in ("forward_kl", "bhattacharyya"):  # also undefined without overlap
        assert table.row(name).ruled_out is not None
    assert result.divergence["name"] in {"js", "hellinger", "wasserstein"}
    assert "kl (" in result.reason  # the reason names what was ruled out and why
    assert table.data_statistics["support_overlap"]["bc_mean"] == pytest.approx(0.0, abs=1e-12)


def test_link_only_rules_out_divergences_without_link(selector):
    logp, logq = heavy_tailed_drift(m=40)
    table = selector.rank("divergence", DivergenceEvidence(logp, logq), require_link=True)
    from dpok_framework import get_registry

    classes = get_registry().classes("divergence")
    for row in table.rows:
        if not classes[row.name].has_link:
            assert row.ruled_out is not None and "link" in row.ruled_out
    assert classes[table.best.name].has_link


def test_negative_inner_products_rule_out_linear(selector):
    g = torch.Generator().manual_seed(3)
    x, pos, neg = (torch.randn(64, 8, generator=g) for _ in range(3))
    table = selector.rank("kernel", KernelEvidence(x, pos, neg), candidates=["linear", "rbf"])
    assert table.row("linear").ruled_out is not None and "log K" in table.row("linear").ruled_out
    assert table.best.name == "rbf"
