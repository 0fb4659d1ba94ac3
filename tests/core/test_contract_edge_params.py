"""Two params draws the thorough contract profile hit: an alpha link past its documented clamp, and a privacy
wrapper at a delta so large that Opacus' conversion gives a negative epsilon. Both components are right; the
declarations (``link_exact_within``, epsilon floored at 0, monotone = non-decreasing) say why, and the checks
still fail a component that is wrong inside what it declares."""

from __future__ import annotations

import math

import pytest
import torch

from dpok_framework import get_registry
from dpok_framework.testing.divergences import check_link_gradient
from dpok_framework.testing.privacy import check_release_and_accounting
from dpok_framework.testing.results import ContractViolation


def _pair_with_ratio(r: float) -> tuple[torch.Tensor, torch.Tensor]:
    """[1, 4] log-probabilities whose first log-ratio is ``r`` (the others are moderate)."""
    p = torch.tensor([[math.exp(r) * 1e-5, 0.3, 0.3, 0.0]], dtype=torch.float64)
    q = torch.tensor([[1e-5, 0.2, 0.5, 0.0]], dtype=torch.float64)
    p[0, 3], q[0, 3] = 1 - p[0, :3].sum(), 1 - q[0, :3].sum()
    return p.log(), q.log()


def test_alpha_link_is_checked_only_where_it_is_exact():
    d = get_registry().build("divergence", {"name": "f_divergence", "params": {"f": "alpha", "alpha": 3.435}})
    assert d.link_exact_within == pytest.approx(30.0 / abs(d.generator.a))
    lp, lq = _pair_with_ratio(-9.07)  # exponent -a * r past the cap of 30: the tangent, not f'(e^r)
    assert -d.generator.a * -9.07 > 30.0
    check_link_gradient(d, lp, lq)  # passes: r = 9.07 lies outside link_exact_within
    d.link_exact_within = math.inf  # a divergence claiming an exact link everywhere is held to it
    with pytest.raises(ContractViolation, match="link_consistency"):
        check_link_gradient(d, lp, lq)


def test_a_wrong_link_inside_its_exact_range_still_fails():
    d = get_registry().build("divergence", {"name": "f_divergence", "params": {"f": "alpha", "alpha": 3.435}})
    lp, lq = _pair_with_ratio(2.0)
    d.link = lambda r: -torch.expm1(-0.5 * r)  # not this divergence's f'(e^r)
    with pytest.raises(ContractViolation, match="link_consistency"):
        check_link_gradient(d, lp, lq)


def test_privacy_accounting_at_a_large_delta_is_floored_at_zero_and_monotone():
    registry = get_registry()
    if "dp_covariance" not in registry.names("privacy_wrapper"):
        pytest.skip("dpok-privacy is not installed")
    make = lambda: registry.build("privacy_wrapper", {  # noqa: E731
        "name": "dp_covariance", "params": {"epsilon": 1.0, "delta": 0.877, "clip": 1.0, "releases": 4, "seed": 0}})
    check_release_and_accounting(make, seed=0)
    w = make()
    from dpok_framework.testing.privacy import records

    spent = [w.release_covariance(records(0)).epsilon_spent for _ in range(3)]
    assert all(e >= 0.0 for e in spent) and spent == sorted(spent), spent


def test_a_first_release_refused_by_the_budget_is_checked_under_a_raised_budget():
    registry = get_registry()
    if "dp_covariance" not in registry.names("privacy_wrapper"):
        pytest.skip("dpok-privacy is not installed")
    params = {"epsilon": 0.17, "delta": 0.19, "clip": 2.73, "max_epsilon": 7.48, "noise_multiplier": 0.25,
              "seed": 0}  # the drawn params: one release at z = 0.25 spends more than 7.48
    make = lambda: registry.build("privacy_wrapper", {"name": "dp_covariance", "params": params})  # noqa: E731
    from dpok_framework.components.privacy import PrivacyBudgetExceeded
    from dpok_framework.testing.privacy import records

    with pytest.raises(PrivacyBudgetExceeded):
        make().release_covariance(records(0, clip=2.73))
    check_release_and_accounting(make, seed=0)  # refusal charged nothing; accounting holds at 1000x the budget
