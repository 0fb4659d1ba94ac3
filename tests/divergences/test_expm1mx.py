"""expm1mx(t) = e^t - 1 - t, the second-order core of the KL/forward-KL/alpha terms near p = q: values exact to
rounding in float64 and float32 (against mpmath-free float64 references), gradient exactly expm1(t), and
differentiable twice."""

from __future__ import annotations

import math

import torch
from dpok_divergences._numerics import expm1mx

GRID = torch.cat([torch.linspace(-3.0, 3.0, 601, dtype=torch.float64),
                  torch.tensor([0.0, 1e-30, -1e-30, 1e-12, -1e-12, 1e-6, -1e-6, 0.4999999, -0.4999999, 0.5, -0.5,
                                20.0, -50.0], dtype=torch.float64)])


def _exact(t: float) -> float:
    """e^t - 1 - t: the series for |t| < 1 summed to convergence, expm1 - t beyond (no cancellation there)."""
    if abs(t) >= 1.0:
        return math.expm1(t) - t
    term, total, k = t * t / 2.0, 0.0, 2
    while abs(term) > 1e-40 * max(abs(total), 1e-300) and k < 60:
        total += term
        k += 1
        term *= t / k
    return total


def test_values_are_exact_to_rounding_in_float64_and_float32():
    want = torch.tensor([_exact(float(t)) for t in GRID], dtype=torch.float64)
    got64 = expm1mx(GRID)
    # series region: a few ulps; |t| >= 1/2: expm1(t) - t is exact (Sterbenz) up to expm1's own rounding, which
    # is at most ~8 ulps of the result at |t| = 1/2
    assert torch.allclose(got64, want, rtol=2e-15, atol=0)
    got32 = expm1mx(GRID.float()).double()
    want32 = torch.tensor([_exact(float(t)) for t in GRID.float().double()], dtype=torch.float64)
    # a few float32 ulps relative to the result (atol: values below float32's smallest subnormal round to 0)
    assert torch.allclose(got32, want32, rtol=1e-6, atol=1e-45)
    assert bool((got32 >= 0).all()) and float(expm1mx(torch.zeros(3))[0]) == 0.0


def test_gradient_is_expm1_and_second_derivative_is_exp():
    t = GRID[GRID.abs() < 5].clone().requires_grad_(True)
    (g,) = torch.autograd.grad(expm1mx(t).sum(), t, create_graph=True)
    assert torch.equal(g.detach(), torch.expm1(t.detach()))
    (gg,) = torch.autograd.grad(g.sum(), t)
    assert torch.allclose(gg, torch.exp(t.detach()), rtol=1e-15)
    small = torch.linspace(-0.9, 0.9, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(expm1mx, (small,))
    assert torch.autograd.gradgradcheck(expm1mx, (small,))
