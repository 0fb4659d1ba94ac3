"""Preference losses: values on hand-computed cases, gradients, and the label-noise identities."""

from __future__ import annotations

import math

import pytest
import torch


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


MARGINS = [-3.0, -0.5, 0.0, 0.25, 2.0, 10.0]


@pytest.mark.parametrize("m", MARGINS)
def test_sigmoid_matches_hand_formula(registry, m):
    loss = registry.build("loss", "sigmoid")
    got = loss(torch.tensor([m], dtype=torch.float64), 0.1).item()
    assert got == pytest.approx(-math.log(_sig(m)), rel=1e-12)


@pytest.mark.parametrize("m", MARGINS)
def test_sigmoid_label_smoothing(registry, m):
    loss = registry.build("loss", {"name": "sigmoid", "params": {"label_smoothing": 0.2}})
    got = loss(torch.tensor([m], dtype=torch.float64), 0.1).item()
    assert got == pytest.approx(-0.8 * math.log(_sig(m)) - 0.2 * math.log(_sig(-m)), rel=1e-12)


@pytest.mark.parametrize("m,beta", [(0.0, 0.1), (0.05, 0.1), (1.0, 0.5), (-2.0, 2.0)])
def test_ipo_hand_values(registry, m, beta):
    loss = registry.build("loss", "ipo")
    got = loss(torch.tensor([m], dtype=torch.float64), beta).item()
    assert got == pytest.approx((m / beta - 1 / (2 * beta)) ** 2, rel=1e-12)


def test_ipo_minimum_at_target(registry):
    """IPO is minimised (zero) exactly where the unscaled log-ratio gap equals 1/(2 beta)."""
    beta = 0.25
    loss = registry.build("loss", "ipo")
    assert loss(torch.tensor([0.5]), beta).item() == pytest.approx(0.0, abs=1e-12)
    assert loss(torch.tensor([0.6]), beta).item() > 0


@pytest.mark.parametrize("m,delta,expected", [(0.0, 1.0, 1.0), (0.4, 1.0, 0.6), (1.0, 1.0, 0.0), (3.0, 1.0, 0.0),
                                              (-1.0, 2.0, 3.0)])
def test_hinge_hand_values(registry, m, delta, expected):
    loss = registry.build("loss", {"name": "hinge", "params": {"margin": delta}})
    assert loss(torch.tensor([m], dtype=torch.float64), 0.1).item() == pytest.approx(expected)


@pytest.mark.parametrize("m", MARGINS)
def test_robust_hand_values(registry, m):
    eps = 0.1
    loss = registry.build("loss", {"name": "robust", "params": {"label_smoothing": eps}})
    want = (-(1 - eps) * math.log(_sig(m)) + eps * math.log(_sig(-m))) / (1 - 2 * eps)
    assert loss(torch.tensor([m], dtype=torch.float64), 0.1).item() == pytest.approx(want, rel=1e-10)


def test_robust_is_unbiased_under_label_flips(registry):
    """E over flips with prob eps of the rDPO loss equals the clean DPO loss (Chowdhury et al., Lemma 3.1)."""
    eps = 0.2
    robust = registry.build("loss", {"name": "robust", "params": {"label_smoothing": eps}})
    dpo = registry.build("loss", "sigmoid")
    m = torch.linspace(-4, 4, 17, dtype=torch.float64)
    expected = (1 - eps) * robust(m, 0.1) + eps * robust(-m, 0.1)
    torch.testing.assert_close(expected, dpo(m, 0.1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "ipo", "robust"])
def test_smooth_losses_gradcheck(registry, name):
    loss = registry.build("loss", name)
    m = torch.linspace(-3, 3, 7, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: loss(x, 0.3), (m,))


def test_sigmoid_stable_for_extreme_margins(registry):
    loss = registry.build("loss", "sigmoid")
    out = loss(torch.tensor([-1e4, 1e4]), 0.1)
    assert torch.isfinite(out).all()
    assert out[0].item() == pytest.approx(1e4) and out[1].item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("spec,field", [({"name": "sigmoid", "params": {"label_smoothing": 0.7}}, "label_smoothing"),
                                        ({"name": "robust", "params": {"label_smoothing": -0.1}}, "label_smoothing"),
                                        ({"name": "hinge", "params": {"margin": 0}}, "margin")])
def test_invalid_params_name_the_field(registry, spec, field):
    from dpok_framework.errors import ComponentParamsError

    with pytest.raises(ComponentParamsError, match=rf"loss\.params\.{field}"):
        registry.build("loss", spec)
