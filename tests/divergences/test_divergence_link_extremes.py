"""Every registered f-DPO link (third-party included) on extreme log-ratios, through every registered loss.

Issue 14 case 1: exponential links overflowed float32 at ordinary summed log-ratios (-100 to -200 nats)
and turned the loss and its gradient into NaN. The contract (``dpok_framework.components.finiteness``):
value and gradient finite for |r| <= 1e4 nats in float32; exact below the cap, tangent beyond it.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dpok_divergences import GENERATORS, FDivergence
from dpok_divergences._numerics import LINK_EXP_CAP
from dpok_framework import get_registry, hookimpl, load_registry
from dpok_framework.components.finiteness import EXTREME_LOG_RATIO, check_link_finite, check_objective_finite


class CubicChi(FDivergence):
    """Test-only third-party f-divergence with no closed-form link: f(u) = (u - 1)^2 (u + 2) / 6 (convex on u > 0).

    f'(u) = (u^2 - 1)/2 grows like e^(2r) in the default link f'(exp r), which overflows float32 at r = 45.
    """

    name = "cubic_chi_test"
    summary = "test plugin: unbounded link through the default FDivergence.link"

    def f(self, u):
        return (u - 1.0) ** 2 * (u + 2.0) / 6.0

    def f_prime(self, u):
        return 0.5 * (u * u - 1.0)

    def f_zero(self):
        return 1.0 / 3.0

    def f_star_zero(self):
        return math.inf


class _Plugin:
    @hookimpl
    def register_divergences(self, register):
        register(CubicChi)


@functools.cache
def registry():
    reg = load_registry()
    reg.register_plugin(_Plugin(), name="test_cubic_chi_plugin")
    return reg


def _link_specs():
    """Every registered divergence with a link (default params), every f_divergence generator with a link,
    alpha orders on both sides of (0, 1) in both conventions, and the in-process third-party link."""
    specs = [{"name": n} for n in get_registry().names("divergence")]
    specs += [{"name": "f_divergence", "params": {"f": f}} for f in GENERATORS if f != "alpha"]
    specs += [{"name": "f_divergence", "params": {"f": "alpha", "alpha": a, "convention": c}}
              for a, c in ((-2.0, "paper"), (0.3, "paper"), (3.0, "paper"), (0.3, "trl"), (-1.5, "trl"))]
    specs.append({"name": CubicChi.name})
    out = []
    for spec in specs:
        d = registry().build("divergence", spec)
        if d.has_link:
            out.append(spec)
    return out


LINK_SPECS = _link_specs()
LINK_IDS = ["{}{}".format(s["name"], ":" + ",".join(f"{v}" for v in s["params"].values()) if "params" in s else "")
            for s in LINK_SPECS]
LOSS_SPECS = [{"name": n} for n in get_registry().names("loss")] + [
    {"name": "ipo", "params": {"convention": "trl"}}, {"name": "sigmoid", "params": {"label_smoothing": 0.2}},
    {"name": "robust", "params": {"label_smoothing": 0.0}}]
R = st.floats(-EXTREME_LOG_RATIO, EXTREME_LOG_RATIO, allow_nan=False, width=32)


def test_the_registry_has_the_links_and_losses_it_should():
    names = {s["name"] for s in LINK_SPECS}
    assert {"kl", "forward_kl", "js", "hellinger", "f_divergence", CubicChi.name} <= names
    assert len(LOSS_SPECS) >= 4


@pytest.mark.parametrize("spec", LINK_SPECS, ids=LINK_IDS)
@given(r=st.lists(R, min_size=1, max_size=16))
def test_every_link_is_finite_on_extreme_log_ratios(spec, r):
    d = registry().build("divergence", spec)
    check_link_finite(d, torch.tensor(r, dtype=torch.float32))


@pytest.mark.parametrize("spec", LINK_SPECS, ids=LINK_IDS)
@given(pairs=st.lists(st.tuples(R, R), min_size=1, max_size=8),
       lengths=st.lists(st.integers(0, 4096), min_size=2, max_size=2))
def test_every_link_and_loss_give_a_finite_objective(spec, pairs, lengths):
    d = registry().build("divergence", spec)
    r_pos = torch.tensor([p for p, _ in pairs], dtype=torch.float32)
    r_neg = torch.tensor([n for _, n in pairs], dtype=torch.float32)
    n_pos, n_neg = (torch.full_like(r_pos, float(n)) for n in lengths)
    for loss_spec in LOSS_SPECS:
        loss = registry().build("loss", loss_spec)
        check_objective_finite(d, loss, r_pos, r_neg, beta=0.1, lengths=(n_pos, n_neg))


@pytest.mark.parametrize("spec,r_pos,r_neg", [
    ({"name": "forward_kl"}, 5.0, -100.0), ({"name": "hellinger"}, 0.0, -200.0),
    ({"name": "f_divergence", "params": {"f": "alpha"}}, 0.0, -200.0),
    ({"name": "f_divergence", "params": {"f": "pearson_chi2"}}, 100.0, 0.0),
    ({"name": "f_divergence", "params": {"f": "neyman_chi2"}}, 0.0, -60.0)],
    ids=["forward_kl", "hellinger", "alpha", "pearson", "neyman"])
def test_issue14_link_counterexamples_are_finite(spec, r_pos, r_neg):
    """The issue's minimal counterexamples: loss and gradient were NaN with the sigmoid loss."""
    d, loss = get_registry().build("divergence", spec), get_registry().build("loss", "sigmoid")
    check_objective_finite(d, loss, torch.tensor([r_pos]), torch.tensor([r_neg]), beta=0.1)
    check_link_finite(d, torch.tensor([r_pos, r_neg]))


@pytest.mark.parametrize("spec", LINK_SPECS, ids=LINK_IDS)
def test_links_are_exact_below_the_cap_and_tangent_beyond(spec):
    """Within the cap psi(r) = link_scale f'(exp r) + const; beyond, strictly increasing and C^1 (tangent)."""
    d = registry().build("divergence", spec)
    if isinstance(d, FDivergence):
        r = torch.linspace(-LINK_EXP_CAP / 3, LINK_EXP_CAP / 3, 201, dtype=torch.float64)  # |exponent| <= cap
        gap = d.link(r) - d.link_scale * d.f_prime(r.exp())
        assert (gap - gap[100]).abs().max() <= 1e-9 * (1 + d.link(r).abs().max()), spec
    far = torch.linspace(-EXTREME_LOG_RATIO, EXTREME_LOG_RATIO, 4001, dtype=torch.float32)
    psi = d.link(far)
    assert torch.isfinite(psi).all() and (psi[1:] >= psi[:-1]).all()
    x = torch.tensor([-250.0, -40.0, 40.0, 250.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(d.link(x).sum(), x)
    h = 1e-4  # the slope beyond the cap is a constant (tangent line): compare with a central difference
    fd = (d.link(x.detach() + h) - d.link(x.detach() - h)) / (2 * h)
    torch.testing.assert_close(g, fd, rtol=1e-5, atol=1e-9)


def test_cap_changes_only_the_growth_beyond_the_cap():
    """forward_kl: -exp(-r) exactly down to r = -30; below, the tangent -e^30 (1 + (-r - 30))."""
    d = get_registry().build("divergence", "forward_kl")
    r = torch.tensor([-29.0, -30.0, -130.0], dtype=torch.float64)
    expected = torch.tensor([-math.exp(29), -math.exp(30), -math.exp(30) * 101], dtype=torch.float64)
    torch.testing.assert_close(d.link(r), expected)


def test_default_link_of_a_third_party_f_divergence_is_tangent_extended():
    d = registry().build("divergence", CubicChi.name)
    r = torch.tensor([-1e4, -60.0, 60.0, 1e4], dtype=torch.float32)
    check_link_finite(d, r)
    lo, hi, _, slope_hi = d._link_knots
    assert lo == -LINK_EXP_CAP and 14.0 < hi < 15.5  # psi = (e^(2r) - 1)/2 reaches e^30 at r = 15.35
    expected = 0.5 * math.expm1(2 * hi) + math.exp(2 * hi) * (60.0 - hi)  # the tangent at hi
    assert float(d.link(torch.tensor([60.0], dtype=torch.float64))) == pytest.approx(expected, rel=1e-12)
