"""Helpers shared by the privacy tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm


def exact_gaussian_epsilon(mu: float, delta: float) -> float:
    """Exact epsilon of a Gaussian mechanism with mu = sensitivity/std (Balle & Wang 2018, Thm. 8):
    delta(eps) = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2), solved for eps."""
    def gap(eps: float) -> float:
        return norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2) - delta
    return brentq(gap, 0.0, 200.0, xtol=1e-12)


def rdp_gaussian_epsilon(z: float, steps: int, delta: float, orders) -> float:
    """RDP of `steps` full-batch Gaussian releases, steps * a/(2 z^2), converted with Balle et al. 2020 Thm 21."""
    a = np.asarray(orders, dtype=float)
    rdp = steps * a / (2 * z * z)
    eps = rdp - (np.log(delta) + np.log(a)) / (a - 1) + np.log((a - 1) / a)
    return float(eps.min())


@pytest.fixture(scope="session")
def dp_cls():
    from dpok_privacy.covariance import DPCovariance

    return DPCovariance
