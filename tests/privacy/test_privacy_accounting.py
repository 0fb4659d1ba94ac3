"""The accountant: epsilon equals Opacus' own for the same parameters, and matches closed-form references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from .conftest import exact_gaussian_epsilon, rdp_gaussian_epsilon

DELTA = 1e-6

# the reference calls go to Opacus directly (without dpok_privacy's warning filter): its q = 1 PRV evaluates a
# masked log(0) and its bisection probes sigmas whose optimal RDP order is the grid's edge; both are benign
pytestmark = [pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:Optimal order is the:UserWarning")]


def _x(n=64, d=4, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) / 3


def _orders(accountant):
    from dpok_privacy.accounting import rdp_orders

    return {"alphas": rdp_orders()} if accountant == "rdp" else {}


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
@pytest.mark.parametrize("epsilon,releases", [(0.5, 1), (2.0, 3), (8.0, 5)])
def test_noise_multiplier_is_opacus_get_noise_multiplier(dp_cls, accountant, epsilon, releases):
    from opacus.accountants.utils import get_noise_multiplier

    w = dp_cls(epsilon=epsilon, delta=DELTA, releases=releases, accountant=accountant, seed=0)
    expected = get_noise_multiplier(target_epsilon=epsilon, target_delta=DELTA, sample_rate=1.0, steps=releases,
                                    accountant=accountant, epsilon_tolerance=0.01, **_orders(accountant))
    assert w.noise_multiplier == expected
    if accountant == "rdp":  # in this range the optimal order lies inside Opacus' default grid: same answer
        assert expected == get_noise_multiplier(target_epsilon=epsilon, target_delta=DELTA, sample_rate=1.0,
                                                steps=releases)


def test_small_epsilon_is_reachable_with_the_extended_orders(dp_cls):
    w = dp_cls(epsilon=0.05, delta=DELTA, seed=0)
    w.release_covariance(_x())
    assert 0.04 <= w.spent()[0] <= 0.05


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_spent_epsilon_equals_opacus_accountant_after_each_release(dp_cls, accountant):
    from opacus.accountants import create_accountant

    w = dp_cls(epsilon=2.0, delta=DELTA, releases=4, accountant=accountant, seed=1)
    reference = create_accountant(accountant)
    assert w.spent() == (0.0, 0.0)
    for k in range(1, 5):
        rel = w.release_covariance(_x(seed=k))
        reference.step(noise_multiplier=w.noise_multiplier, sample_rate=1.0)
        eps = reference.get_epsilon(delta=DELTA, **_orders(accountant))
        assert rel.epsilon_spent == pytest.approx(eps, rel=1e-12)
        assert w.spent() == (pytest.approx(eps, rel=1e-12), DELTA)
        assert rel.index == k and rel.delta == DELTA
    # the planned releases spend the target, to Opacus' bisection tolerance (0.01), never more
    assert 2.0 - 0.01 - 1e-9 <= w.spent()[0] <= 2.0


def test_rdp_epsilon_matches_closed_form_gaussian_rdp(dp_cls):
    """For sample_rate 1 the RDP of k Gaussian releases is k a / (2 z^2); converted with Balle et al. (2020)."""
    from dpok_privacy.accounting import rdp_orders

    w = dp_cls(epsilon=3.0, delta=DELTA, releases=3, seed=2)
    for _ in range(3):
        w.release_covariance(_x())
    ref = rdp_gaussian_epsilon(w.noise_multiplier, 3, DELTA, rdp_orders())
    assert w.spent()[0] == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("releases", [1, 4])
def test_epsilon_brackets_the_exact_gaussian_mechanism(dp_cls, releases):
    """k releases with noise multiplier z compose to one Gaussian mechanism with mu = sqrt(k)/z, whose exact
    epsilon (Balle & Wang 2018) lower-bounds every valid accountant; PRV is within its 0.01 error of it."""
    eps_by = {}
    for acc in ("rdp", "prv"):
        w = dp_cls(delta=DELTA, noise_multiplier=2.0, max_epsilon=100.0, accountant=acc, seed=3)
        for _ in range(releases):
            w.release_covariance(_x())
        eps_by[acc] = w.spent()[0]
    exact = exact_gaussian_epsilon(math.sqrt(releases) / 2.0, DELTA)
    assert eps_by["rdp"] >= exact
    assert exact <= eps_by["prv"] <= exact + 0.02
    assert eps_by["prv"] < eps_by["rdp"]


def test_epsilon_decreases_as_noise_grows(dp_cls):
    spent = []
    for z in (0.5, 1.0, 2.0, 4.0, 8.0):
        w = dp_cls(noise_multiplier=z, max_epsilon=1e6, delta=DELTA, seed=0)
        w.release_covariance(_x())
        spent.append(w.spent()[0])
    assert np.all(np.diff(spent) < 0)


def test_budget_too_small_to_calibrate_is_a_clear_error(dp_cls):
    w = dp_cls(epsilon=1e-9, delta=1e-12, seed=0)
    with pytest.raises(ValueError, match="cannot calibrate noise.*Raise epsilon"):
        w.release_covariance(_x())
