"""One privacy ledger per run, backed by an Opacus accountant (imported lazily: ``import opacus`` takes seconds).

Every Gaussian release is charged as one Opacus step ``(noise_multiplier=z, sample_rate=q)``; a full-data
release (no subsampling) is ``q = 1``, for which Opacus' RDP accountant uses the exact Gaussian-mechanism
Renyi divergence ``eps_RDP(a) = a / (2 z^2)`` per release, summed over releases (composition) and converted
to (epsilon, delta) by Opacus' ``get_privacy_spent``.  The PRV accountant (Gopi et al. 2021) composes the
privacy-loss distributions numerically and is tighter (close to the exact Gaussian-mechanism epsilon).
"""

from __future__ import annotations

import copy
import functools
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

ACCOUNTANTS = ("rdp", "prv")

#: RDP orders beyond Opacus' default grid (which stops at 63).  With q = 1 the RDP is a / (2 z^2) at any
#: order, and the conversion term log(1/delta)/(a - 1) needs large orders to reach small epsilon: with the
#: default grid alone, epsilon < ~0.25 at delta = 1e-6 cannot be certified at all.
EXTRA_RDP_ORDERS = (64, 80, 96, 128, 160, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 8192)


def rdp_orders() -> list[float]:
    """The RDP orders we pass to Opacus: its ``DEFAULT_ALPHAS`` followed by :data:`EXTRA_RDP_ORDERS`."""
    from opacus.accountants import RDPAccountant

    return list(RDPAccountant.DEFAULT_ALPHAS) + list(EXTRA_RDP_ORDERS)


def _epsilon_kwargs(mechanism: str) -> dict[str, Any]:
    return {"alphas": rdp_orders()} if mechanism == "rdp" else {}


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence Opacus' numerical warnings (log(0) in the q = 1 PRV; 'optimal order is the largest alpha').

    Both are harmless for us: the RDP bound stays valid (only possibly loose) and the PRV code masks the
    log(0) branch with ``np.where``.
    """
    import numpy as np

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def create_accountant(mechanism: str) -> Any:
    """A fresh Opacus accountant (``rdp`` or ``prv``)."""
    if mechanism not in ACCOUNTANTS:
        raise ValueError(f"unknown accountant {mechanism!r}; choose one of {', '.join(ACCOUNTANTS)}")
    from opacus.accountants import create_accountant as opacus_create

    return opacus_create(mechanism)


def epsilon_of(accountant: Any, delta: float) -> float:
    """Opacus' epsilon of ``accountant`` at ``delta`` (0.0 before any step), never below 0.

    The RDP-to-(epsilon, delta) conversion eps = rdp(a) + log(1/delta)/(a - 1) (and its refinements) goes
    negative for a large delta: the guarantee then holds at epsilon = 0, which is what is reported."""
    if not accountant.history:
        return 0.0
    with _quiet():
        return max(0.0, float(accountant.get_epsilon(delta=delta, **_epsilon_kwargs(accountant.mechanism()))))


@functools.lru_cache(maxsize=256)
def calibrate_noise_multiplier(epsilon: float, delta: float, releases: int, mechanism: str = "rdp",
                               sample_rate: float = 1.0, tolerance: float = 0.01) -> float:
    """Opacus' ``get_noise_multiplier``: the z whose ``releases`` Gaussian releases spend at most ``epsilon``
    (RDP: over the orders :func:`rdp_orders`).  A pure function of its arguments, so results are cached.

    Opacus bisects on z and returns the upper end of the bracket, so the spent epsilon is in
    ``(epsilon - tolerance, epsilon]``.
    """
    from opacus.accountants.utils import get_noise_multiplier

    with _quiet():
        try:
            return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate,
                                              steps=releases, accountant=mechanism, epsilon_tolerance=tolerance,
                                              **_epsilon_kwargs(mechanism)))
        except ValueError as exc:  # "The privacy budget is too low."
            raise ValueError(f"cannot calibrate noise for epsilon={epsilon:g}, delta={delta:g} over {releases} "
                             f"release(s): Opacus says {exc!s} Raise epsilon or delta, or plan fewer releases"
                             ) from None


class PrivacyLedger:
    """The single accountant every release of a run is charged to, with a hard epsilon budget.

    ``would_spend(z, q)`` is the epsilon after one more step (computed on a copy: nothing is charged);
    ``charge(z, q)`` records the step.  Callers check before charging, so the budget is never crossed.
    """

    def __init__(self, delta: float, budget: float, mechanism: str = "rdp") -> None:
        self.delta = float(delta)
        self.budget = float(budget)
        self.mechanism = mechanism
        self.accountant = create_accountant(mechanism)

    def epsilon(self) -> float:
        return epsilon_of(self.accountant, self.delta)

    def would_spend(self, noise_multiplier: float, sample_rate: float = 1.0) -> float:
        trial = copy.deepcopy(self.accountant)
        trial.step(noise_multiplier=noise_multiplier, sample_rate=sample_rate)
        return epsilon_of(trial, self.delta)

    def exceeds(self, epsilon: float) -> bool:
        """Whether ``epsilon`` is past the budget (a relative slack of 1e-9 absorbs float round-off)."""
        return epsilon > self.budget * (1.0 + 1e-9)

    def charge(self, noise_multiplier: float, sample_rate: float = 1.0) -> None:
        self.accountant.step(noise_multiplier=noise_multiplier, sample_rate=sample_rate)

    @property
    def history(self) -> list[tuple[float, float, int]]:
        """Opacus history: ``(noise_multiplier, sample_rate, steps)`` runs."""
        return [tuple(h) for h in self.accountant.history]

    def load_history(self, history: list) -> None:
        self.accountant.history = [(float(z), float(q), int(k)) for z, q, k in history]
