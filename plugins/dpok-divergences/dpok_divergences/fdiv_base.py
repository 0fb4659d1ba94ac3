"""`FDivergence`: the base class for f-divergences, first-party and third-party alike.

D_f(p || q) = sum_v q_v f(p_v / q_v),  f convex on (0, inf), f(1) = 0,  p = policy, q = reference.

Zero masses use the limits of the perspective q f(p/q) (Liese & Vajda 2006):
  p_v = 0 < q_v:  q_v f(0)          with f(0)  = lim_{u -> 0+} f(u)
  q_v = 0 < p_v:  p_v f*(0)         with f*(0) = lim_{u -> inf} f(u) / u  (= lim f'(u))
  p_v = q_v = 0:  0
so D_f is finite on disjoint supports exactly when f(0) and f*(0) are, and then
D_f <= f(0) + f*(0) (the bound is attained by disjoint supports); this bound becomes the instance's
``upper_bound`` automatically. The f-DPO link (Wang et al. 2023, arXiv 2309.16240) is
psi(r) = f'(exp r).
Exponential links follow their formula while the exponent is <= 30 and their tangent beyond
(``_numerics.LINK_EXP_CAP``), so they stay finite in float32 for summed log-ratios of any size.

A third-party f-divergence subclasses :class:`FDivergence`, sets ``name`` (and ``symmetric`` if
f(u) = u f(1/u)), implements ``f`` and ``f_prime`` as elementwise torch functions, and registers
it from its plugin's ``register_divergences`` hook. Optional overrides: ``f_zero`` /
``f_star_zero`` (when ``f(0)`` / ``f'(inf)`` do not evaluate to the limits), ``interior`` (a
log-space form of q f(p/q) that cannot overflow) and ``link`` (a closed form of f'(exp r)).
"""

from __future__ import annotations

import abc
import math

import torch

from dpok_framework.components import Divergence

from ._numerics import INF, check_pair, edge_term, safe, support, tangent_extended, tangent_knots


class FDivergence(Divergence, metaclass=abc.ABCMeta):
    """D_f(p || q) = sum_v q_v f(p_v / q_v) for a convex generator f with f(1) = 0."""

    is_f_divergence = True
    has_link = True
    # c in the tilted generator f(u) - c (u - 1) that ``interior`` computes (same D for normalised p, q;
    # built-ins use c = f'(1) so each term is >= 0 and second order near p = q); the edge limits follow it
    tilt = 0.0

    def __init__(self, params=None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self._link_knots: tuple[float, float, float, float] | None = None  # default link's tangent points
        self._setup()
        if self.upper_bound is None:
            bound = self.f_zero() + self.f_star_zero()
            if math.isfinite(bound):
                self.upper_bound = float(bound)  # Vajda: D_f <= f(0) + f*(0)

    def _setup(self) -> None:
        """Hook for subclasses that build state from ``self.params`` before the axioms are derived."""

    # -- the generator ----------------------------------------------------------------------
    @abc.abstractmethod
    def f(self, u: torch.Tensor) -> torch.Tensor:
        """The convex generator f(u), elementwise, for u = p/q > 0."""

    @abc.abstractmethod
    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        """Its derivative f'(u), elementwise (defines the f-DPO link psi(r) = f'(exp r))."""

    def f_zero(self) -> float:
        """f(0) = lim_{u -> 0+} f(u), possibly +inf. Default: ``f`` evaluated at 0 in float64."""
        with torch.no_grad():
            value = float(self.f(torch.zeros((), dtype=torch.float64)))
        if math.isnan(value):
            raise ValueError(f"{type(self).__name__}.f(0) is nan: override f_zero() to return "
                             f"lim_(u->0+) f(u) (float('inf') if it diverges)")
        return value

    def f_star_zero(self) -> float:
        """f*(0) = lim_{u -> inf} f(u)/u = lim f'(u), possibly +inf. Default: ``f_prime(inf)``."""
        with torch.no_grad():
            value = float(self.f_prime(torch.tensor(INF, dtype=torch.float64)))
        if math.isnan(value):
            raise ValueError(f"{type(self).__name__}.f_prime(inf) is nan: override f_star_zero() to return "
                             f"lim_(u->inf) f(u)/u (float('inf') if it diverges)")
        return value

    # -- evaluation -------------------------------------------------------------------------
    def interior(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        """q f(p/q) - tilt (p - q) elementwise for finite log-masses (entries where both p, q > 0).

        The default exponentiates u = p/q, which overflows for extreme ratios; built-ins override it
        with a form computed from log-masses.
        """
        return logq.exp() * self.f(torch.exp(logp - logq))

    def terms(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        """Per-token contributions q_v f(p_v / q_v) ``[..., V]`` with the zero-mass limits."""
        pos_p, pos_q = support(logp), support(logq)  # [..., V]
        both = pos_p & pos_q
        if bool(both.all()):  # the common case (softmax outputs): no masking temporaries
            return self.interior(logp, logq)
        inner = self.interior(safe(logp, both), safe(logq, both))  # finite inputs only
        t = torch.where(both, inner, torch.zeros_like(inner))
        only_q, only_p = pos_q & ~pos_p, pos_p & ~pos_q
        if bool(only_q.any()):
            t = t + edge_term(logq.exp(), only_q, self.f_zero() + self.tilt)
        if bool(only_p.any()):
            t = t + edge_term(logp.exp(), only_p, self.f_star_zero() - self.tilt)
        return t

    def forward(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        logp, logq = check_pair(self.name, logp, logq)  # [..., V]
        return self.terms(logp, logq).sum(-1)  # [...]

    def link(self, r: torch.Tensor) -> torch.Tensor:
        """psi(r) = f'(exp r) on log-ratios r (any shape), exact for |r| <= LINK_EXP_CAP (30 nats).

        Beyond that (or sooner, where |psi| or |psi'| would pass e^30) the default continues psi along its
        tangent (knots found once in float64), so a third-party link stays finite in value and gradient
        however large |r| gets; override ``link`` with a closed form (see ``_numerics.capped_expm1``) to
        control the tails yourself.
        """
        if self._link_knots is None:
            self._link_knots = tangent_knots(self._exp_link)
            self.link_exact_within = min(-self._link_knots[0], self._link_knots[1])  # exact between the knots
        return tangent_extended(self._exp_link, r, self._link_knots)

    def _exp_link(self, r: torch.Tensor) -> torch.Tensor:
        return self.f_prime(torch.exp(r))
