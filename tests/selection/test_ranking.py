"""Rank aggregation, vetoes and failure isolation of the generic selector."""

from __future__ import annotations

import math

import pytest
import torch

from dpok_framework import hookimpl, load_registry
from dpok_framework.components import Kernel, Params
from dpok_framework.components.selection import MetricValue, SelectionMetric
from dpok_framework.errors import ConfigError
from dpok_framework.selection import KernelEvidence, Selector, rank_utilities

from .synthetic import local_boundary_triplets


def test_rank_utilities_ties_nan_direction():
    u = rank_utilities({"a": 3.0, "b": 1.0, "c": 2.0}, higher_is_better=True)
    assert u == {"a": 1.0, "c": 0.5, "b": 0.0}
    u = rank_utilities({"a": 3.0, "b": 1.0, "c": 2.0}, higher_is_better=False)
    assert u == {"b": 1.0, "c": 0.5, "a": 0.0}
    u = rank_utilities({"a": 1.0, "b": 1.0 + 1e-13, "c": math.nan, "d": 0.0}, higher_is_better=True)
    assert u["a"] == u["b"] == pytest.approx(5 / 6) and u["d"] == pytest.approx(1 / 3) and u["c"] == 0.0
    assert rank_utilities({"only": math.nan}, True) == {"only": 1.0}
    assert rank_utilities({"a": math.inf, "b": 5.0}, True) == {"a": 1.0, "b": 0.0}


class _BadParams(Params):
    pass


class ExplodingKernel(Kernel):
    """A third-party kernel whose evaluation raises."""

    name = "exploding_test"
    Params = _BadParams

    def log_paired(self, x, y):
        raise RuntimeError("boom")

    def pairwise(self, x, y):
        raise RuntimeError("boom")


class FlatKernel(Kernel):
    """K = 1 everywhere: finite, but carries no information."""

    name = "flat_test"
    Params = _BadParams

    def log_paired(self, x, y):
        return x.new_zeros(x.shape[0])

    def pairwise(self, x, y):
        return x.new_ones(x.shape[0], y.shape[0])


class BrokenMetric(SelectionMetric):
    name = "broken_metric_test"
    target = "kernel"
    Params = _BadParams

    def compute(self, candidate, evidence):
        raise ValueError("metric bug")


class VetoEverythingMetric(SelectionMetric):
    name = "veto_rbf_test"
    target = "kernel"
    Params = _BadParams

    def compute(self, candidate, evidence):
        return MetricValue(1.0, veto="vetoed for the test" if candidate.name == "rbf" else None)


class _Plugin:
    @hookimpl
    def register_kernels(self, register):
        register(ExplodingKernel)
        register(FlatKernel)

    @hookimpl
    def register_selection_metrics(self, register):
        register(BrokenMetric)
        register(VetoEverythingMetric)


@pytest.fixture(scope="module")
def registry():
    reg = load_registry()
    reg.register_plugin(_Plugin(), name="selection-test-plugin")
    return reg


def test_failures_are_isolated_and_vetoes_rule_out(registry):
    x, pos, neg = local_boundary_triplets(n=60, d=6, seed=2)
    table = Selector(registry).rank("kernel", KernelEvidence(x, pos, neg),
                                    candidates=["rbf", "spectral", "exploding_test", "flat_test"])
    boom = table.row("exploding_test")  # raises on every input: refused by runtime admission
    assert boom.excluded and "boom" in boom.excluded and boom.rank is None and not boom.eligible
    assert table.row("rbf").ruled_out == "veto_rbf_test: vetoed for the test"
    spectral = table.row("spectral")
    assert spectral.rank == 1 and "broken_metric_test" not in spectral.values
    assert "metric bug" in table.excluded_metrics["broken_metric_test"]  # a metric that always raises is excluded
    flat = table.row("flat_test")
    assert flat.eligible and math.isnan(flat.values["nag"].value) and flat.values["tat"].value == 0.0
    assert [r.name for r in table.rows][-2:] == ["exploding_test", "rbf"]  # ruled out: last, by name


def test_scores_are_weighted_mean_utilities(registry):
    x, pos, neg = local_boundary_triplets(n=60, d=6, seed=2)
    sel = Selector(registry, metrics=["tat", "pnav"], weights={"tat": 3.0, "pnav": 1.0})
    table = sel.rank("kernel", KernelEvidence(x, pos, neg), candidates=["rbf", "linear", "flat_test"])
    for row in table.rows:
        expect = (3.0 * row.utilities["tat"] + row.utilities["pnav"]) / 4.0
        assert row.score == pytest.approx(expect)
    assert [r.rank for r in table.rows] == [1, 2, 3]
    scores = [r.score for r in table.rows]
    assert scores == sorted(scores, reverse=True)


def test_selector_config_errors_name_the_field(registry):
    with pytest.raises(ConfigError, match="unknown metric"):
        Selector(registry, metrics=["nope"])
    with pytest.raises(ConfigError, match="selection.weights"):
        Selector(registry, metrics=["tat"], weights={"nag": 1.0})
    with pytest.raises(ConfigError, match="twice"):
        Selector(registry).rank("kernel", KernelEvidence(*local_boundary_triplets(n=8, d=2)), candidates=["rbf", "rbf"])


def test_pair_table_and_reason(registry):
    from dpok_framework.selection import DivergenceEvidence

    from .synthetic import heavy_tailed_drift

    x, pos, neg = local_boundary_triplets(n=60, d=6, seed=2)
    logp, logq = heavy_tailed_drift(m=30, v=8)
    res = Selector(registry, metrics=["tat", "nag", "kurtosis", "support_overlap"]).select(
        KernelEvidence(x, pos, neg), DivergenceEvidence(logp, logq), kernels=["rbf", "linear"],
        divergences=["kl", "hellinger"])
    assert res.pairs[0]["kernel"] == res.kernel["name"] and res.pairs[0]["divergence"] == res.divergence["name"]
    assert len(res.pairs) == 4 and [p["rank"] for p in res.pairs] == [1, 2, 3, 4]
    best = res.pairs[0]
    kr, dr = res.kernels.row(best["kernel"]), res.divergences.row(best["divergence"])
    assert best["score"] == pytest.approx((sum(kr.utilities.values()) + sum(dr.utilities.values())) / 4)
    assert res.reason.startswith(f"{res.kernel['name']} + {res.divergence['name']}: ")
    assert "ranks first of 2 kernels" in res.reason


def test_values_within_two_standard_errors_tie():
    vals = {"a": 0.010, "b": 0.004, "c": -0.5}
    assert rank_utilities(vals, True) == {"a": 1.0, "b": 0.5, "c": 0.0}
    u = rank_utilities(vals, True, errors={"a": 0.003, "b": 0.003, "c": 0.003})  # |a - b| < 2 * 0.0042
    assert u["a"] == u["b"] == pytest.approx(0.75) and u["c"] == 0.0
    u = rank_utilities(vals, False, errors={"a": 0.003, "b": 0.003, "c": 0.003})  # direction respected
    assert u["c"] == 1.0 and u["a"] == u["b"] == pytest.approx(0.25)


def test_ties_share_a_rank_and_are_reported_as_ties():
    from dpok_framework.selection.ranking import CandidateRow, score_rows
    from dpok_framework.selection.result import KindTable, MetricInfo, SelectionResult

    rows = [CandidateRow(n, {"name": n, "params": {}}, values={"m": MetricValue(v)})
            for n, v in (("zeta", 1.0), ("alpha", 1.0), ("mid", 0.5))]
    score_rows(rows, {"m": True}, {})
    by = {r.name: r for r in rows}
    assert by["alpha"].rank == by["zeta"].rank == 1 and by["mid"].rank == 3
    assert by["alpha"].tied_with == ["zeta"] and by["zeta"].tied_with == ["alpha"] and by["mid"].tied_with == []
    table = KindTable("divergence", [MetricInfo("m", "m", True, "")], rows)
    result = SelectionResult(None, table)
    assert "alpha ties with zeta for first" in result.reason and "by name only" in result.reason
    assert "tied with zeta" in table.format()
