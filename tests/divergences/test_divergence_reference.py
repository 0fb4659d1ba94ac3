"""First-party divergences against scipy / numpy reference formulas, f-DPO links, edge cases, params."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

from dpok_divergences import GENERATORS, NamedFDivergence
from dpok_framework import get_registry
from dpok_framework.errors import ComponentParamsError, ConfigError

INF = math.inf

def _logsm(x):
    return x - torch.logsumexp(x, -1, keepdim=True)


def _pairs(seed=0, b=6, v=9, zeros=False):
    g = torch.Generator().manual_seed(seed)
    lp = _logsm(torch.randn(b, v, generator=g, dtype=torch.float64) * 2)
    lq = _logsm(torch.randn(b, v, generator=g, dtype=torch.float64) * 2)
    if zeros:  # common zeros in the first columns of half the rows
        lp[::2, :2] = -INF
        lq[::2, :2] = -INF
        lp, lq = _logsm(lp), _logsm(lq)
    return lp, lq


def div(name, **params):
    return get_registry().build("divergence", {"name": name, "params": params})


def _np(p, q):
    return p.exp().numpy(), q.exp().numpy()


def _reference(name, p, q, **kw):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = _reference_terms(name, p, q, **kw)
    return out


def _sum(terms, p, q):
    return np.where((p > 0) | (q > 0), terms, 0.0).sum(-1)  # entries with p = q = 0 contribute 0


def _reference_terms(name, p, q, **kw):
    if True:
        if name == "kl":
            return rel_entr(p, q).sum(-1)
        if name == "forward_kl":
            return rel_entr(q, p).sum(-1)
        if name == "js":
            return jensenshannon(p, q, axis=-1) ** 2
        if name == "hellinger":
            return 0.5 * ((np.sqrt(p) - np.sqrt(q)) ** 2).sum(-1)
        if name == "bhattacharyya":
            return -np.log(np.sqrt(p * q).sum(-1))
        if name == "renyi":
            a = kw.get("alpha", 0.5)
            return np.log(_sum(p**a * q ** (1 - a), p, q)) / (a - 1)
        if name == "pearson_chi2":
            return _sum((p - q) ** 2 / q, p, q)
        if name == "neyman_chi2":
            return _sum((p - q) ** 2 / p, p, q)
        if name == "total_variation":
            return 0.5 * np.abs(p - q).sum(-1)
        if name == "alpha":
            a = kw["alpha"]
            return _sum((p ** (1 - a) * q**a - (1 - a) * p - a * q) / (a * (a - 1)), p, q)
    raise KeyError(name)


@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize("name,params", [("kl", {}), ("forward_kl", {}), ("js", {}), ("hellinger", {}),
                                         ("bhattacharyya", {}), ("renyi", {}), ("renyi", {"alpha": 0.2}),
                                         ("renyi", {"alpha": 3.0}), ("renyi", {"alpha": 0.999})])
def test_matches_scipy_numpy_reference(name, params, zeros):
    lp, lq = _pairs(zeros=zeros)
    np.testing.assert_allclose(div(name, **params)(lp, lq).numpy(), _reference(name, *_np(lp, lq), **params),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("spec", [{"f": g} for g in GENERATORS if g != "alpha"]
                         + [{"f": "alpha", "alpha": a} for a in (-1.0, 0.3, 0.5, 2.0)], ids=str)
def test_f_divergence_generators_match_reference(spec):
    lp, lq = _pairs(seed=3, zeros=True)
    ref = _reference(spec["f"], *_np(lp, lq), **spec) if spec["f"] in (
        "pearson_chi2", "neyman_chi2", "total_variation", "alpha") else _reference(spec["f"], *_np(lp, lq))
    np.testing.assert_allclose(NamedFDivergence(**spec)(lp, lq).numpy(), ref, rtol=1e-9, atol=1e-12)
    if spec["f"] in get_registry().names("divergence"):  # f_divergence(f=x) computes what x does
        torch.testing.assert_close(NamedFDivergence(**spec)(lp, lq), div(spec["f"])(lp, lq))


def test_identities_between_families():
    lp, lq = _pairs(seed=5)
    h2 = div("hellinger")(lp, lq)
    torch.testing.assert_close(NamedFDivergence(f="alpha", alpha=0.5)(lp, lq), 4 * h2)
    torch.testing.assert_close(div("renyi", alpha=0.5)(lp, lq), 2 * div("bhattacharyya")(lp, lq))
    torch.testing.assert_close(div("bhattacharyya")(lp, lq), -torch.log1p(-h2))
    # the alpha family tends to KL(p||q) as alpha -> 0 and KL(q||p) as alpha -> 1
    torch.testing.assert_close(NamedFDivergence(f="alpha", alpha=1e-7)(lp, lq), div("kl")(lp, lq), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(NamedFDivergence(f="alpha", alpha=1 - 1e-7)(lp, lq), div("forward_kl")(lp, lq),
                               rtol=1e-5, atol=1e-6)


def test_renyi_is_accurate_near_alpha_one_and_p_equal_q_in_float32():
    g = torch.Generator().manual_seed(2)
    lq = _logsm(torch.randn(4, 1000, generator=g, dtype=torch.float64))
    lp = _logsm(lq + 0.01 * torch.randn(4, 1000, generator=g, dtype=torch.float64))
    kl = div("kl")(lp, lq)
    near = div("renyi", alpha=1.001)(lp.float(), lq.float()).double()
    torch.testing.assert_close(near, kl, rtol=5e-3, atol=0.0)  # plain logsumexp form: wrong sign here


# -- f-DPO links ---------------------------------------------------------------------------------
R = torch.linspace(-8, 8, 81, dtype=torch.float64)


@pytest.mark.parametrize("name,expected", [
    ("kl", lambda r: r + 1),
    ("forward_kl", lambda r: -torch.exp(-r)),
    ("js", lambda r: math.log(2) - torch.log1p(torch.exp(-r))),
    ("hellinger", lambda r: (1 - torch.exp(-r / 2)) / 2),
])
def test_registered_links_follow_f_dpo(name, expected):
    torch.testing.assert_close(div(name).link(R), expected(R))


@pytest.mark.parametrize("f,expected", [
    ("pearson_chi2", lambda r: 2 * (torch.exp(r) - 1)),
    ("neyman_chi2", lambda r: 1 - torch.exp(-2 * r)),
    ("alpha", lambda r: (1 - torch.exp(-0.5 * r)) / 0.5),
])
def test_generator_links(f, expected):
    torch.testing.assert_close(NamedFDivergence(f=f).link(R), expected(R))


def test_js_link_is_stable_for_large_log_ratios():
    r = torch.tensor([-1e4, -100.0, 0.0, 100.0, 1e4])
    out = div("js").link(r)
    assert torch.isfinite(out[1:]).all() and out[0] == -1e4 + math.log(2)
    assert abs(float(out[2])) < 1e-7 and abs(float(out[-1]) - math.log(2)) < 1e-7


@pytest.mark.parametrize("name", ["renyi", "bhattacharyya", "wasserstein"])
def test_divergences_without_link_refuse(name):
    with pytest.raises(NotImplementedError, match="penalty"):
        div(name).link(R)


def test_total_variation_has_no_usable_link():
    d = NamedFDivergence(f="total_variation")
    assert not d.has_link and d.symmetric and d.upper_bound == 1.0
    with pytest.raises(ConfigError, match="penalty"):
        d.link(R)


# -- zero masses ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,params,expect_inf", [
    ("kl", {}, True), ("forward_kl", {}, True), ("js", {}, False), ("hellinger", {}, False),
    ("bhattacharyya", {}, True), ("renyi", {}, True), ("renyi", {"alpha": 2.0}, True),
    ("wasserstein", {}, False), ("f_divergence", {"f": "pearson_chi2"}, True),
    ("f_divergence", {"f": "total_variation"}, False),
])
def test_disjoint_supports_give_exact_values_and_finite_gradients(name, params, expect_inf):
    lp = torch.tensor([[0.0, -INF, -INF], [math.log(0.5), math.log(0.5), -INF]], dtype=torch.float64,
                      requires_grad=True)
    lq = torch.tensor([[-INF, 0.0, -INF], [-INF, -INF, 0.0]], dtype=torch.float64, requires_grad=True)
    v = div(name, **params)(lp, lq)
    assert bool(torch.isinf(v).all()) == expect_inf and not torch.isnan(v).any()
    v.sum().backward()
    assert torch.isfinite(lp.grad).all() and torch.isfinite(lq.grad).all()


def test_partial_support_cases_follow_the_limits():
    lp = torch.tensor([math.log(0.6), math.log(0.4), -INF], dtype=torch.float64)
    lq = torch.tensor([math.log(0.5), -INF, math.log(0.5)], dtype=torch.float64)
    assert div("kl")(lp, lq) == INF and div("forward_kl")(lp, lq) == INF
    # Renyi alpha < 1 stays finite when supports overlap; alpha > 1 is infinite if p has mass outside q
    a = 0.5
    expected = math.log(0.6**a * 0.5 ** (1 - a)) / (a - 1)
    assert math.isclose(float(div("renyi", alpha=a)(lp, lq)), expected, rel_tol=1e-12)
    assert div("renyi", alpha=2.0)(lp, lq) == INF
    # p has zeros only where q does: everything finite
    lp2 = torch.tensor([math.log(0.3), -INF, math.log(0.7)], dtype=torch.float64)
    for name in ("kl", "forward_kl", "js", "hellinger", "bhattacharyya", "renyi"):
        assert torch.isfinite(div(name)(lp2, lq))


# -- params ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec,match", [
    ({"name": "renyi", "params": {"alpha": 1.0}}, "alpha"),
    ({"name": "renyi", "params": {"alpha": 0.0}}, "alpha"),
    ({"name": "f_divergence", "params": {"f": "alpha", "alpha": 1.0}}, "alpha"),
    ({"name": "f_divergence", "params": {"f": "js", "alpha": 0.3}}, "only applies"),
    ({"name": "f_divergence", "params": {"f": "chi"}}, "f"),
    ({"name": "wasserstein", "params": {"epsilon": 0.0}}, "epsilon"),
    ({"name": "wasserstein", "params": {"ground": "tokens"}}, "ground"),
    ({"name": "js", "params": {"beta": 1.0}}, "beta"),
])
def test_invalid_params_name_the_field(spec, match):
    with pytest.raises(ComponentParamsError, match=match):
        get_registry().build("divergence", spec)


def test_axioms_follow_params():
    assert div("renyi", alpha=0.5).symmetric and not div("renyi", alpha=2.0).symmetric
    assert NamedFDivergence(f="alpha", alpha=0.25).upper_bound == pytest.approx(1 / 0.25 + 1 / 0.75)
    assert NamedFDivergence(f="alpha", alpha=2.0).upper_bound is None
    assert NamedFDivergence(f="js").upper_bound == pytest.approx(math.log(2)) and div("js").link_scale == 2.0
