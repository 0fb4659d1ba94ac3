"""Shared numerics for divergences on log-probabilities: input checks, supports and NaN-free edges.

Every divergence takes ``logp, logq`` of shape ``[..., V]`` where ``-inf`` marks zero mass. The
helpers here keep values and gradients free of NaN at those entries: quantities are only evaluated
on *safe* (finite) copies of the inputs and selected afterwards with ``torch.where``, so the branch
that is not taken never sees ``-inf - (-inf)`` or ``0 * inf`` (whose gradients would be NaN).
"""

from __future__ import annotations

import math

import torch

NEG_INF = float("-inf")
INF = float("inf")
LOG2 = math.log(2.0)


def check_pair(name: str, logp: torch.Tensor, logq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate shapes and promote half precision to float32 (divergences are reductions over V)."""
    if not isinstance(logp, torch.Tensor) or not isinstance(logq, torch.Tensor):
        raise TypeError(f"divergence {name!r}: logp and logq must be tensors, got "
                        f"{type(logp).__name__} and {type(logq).__name__}")
    if logp.shape != logq.shape:
        raise ValueError(f"divergence {name!r}: logp and logq must have the same shape [..., V]; got "
                         f"{tuple(logp.shape)} (policy) and {tuple(logq.shape)} (reference)")
    if logp.ndim == 0 or logp.shape[-1] == 0:
        raise ValueError(f"divergence {name!r}: inputs need a non-empty last (vocabulary) dim; got shape "
                         f"{tuple(logp.shape)}")
    if not (logp.is_floating_point() and logq.is_floating_point()):
        raise TypeError(f"divergence {name!r}: log-probabilities must be floating point; got "
                        f"{logp.dtype} and {logq.dtype}")
    dtype = torch.promote_types(logp.dtype, logq.dtype)
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    return logp.to(dtype), logq.to(dtype)


def support(logx: torch.Tensor) -> torch.Tensor:
    """Boolean mask of entries with positive mass (``logx > -inf``), same shape as ``logx``."""
    return logx > NEG_INF


def safe(logx: torch.Tensor, mask: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """``logx`` where ``mask`` else ``fill``: a finite stand-in to compute on before selecting."""
    return torch.where(mask, logx, torch.full_like(logx, fill))


def edge_term(mass: torch.Tensor, mask: torch.Tensor, limit: float) -> torch.Tensor:
    """``mass * limit`` on ``mask`` and 0 elsewhere, for a limit that may be +inf.

    With an infinite limit the result is a constant ``+inf`` on ``mask`` (no gradient): multiplying
    by ``inf`` would put ``0 * inf = nan`` into the gradient of the masked-out entries.
    """
    if math.isinf(limit):
        if limit < 0:
            raise ValueError("an f-divergence limit f(0) or f*(0) cannot be -inf for a convex f with f(1) = 0")
        return torch.where(mask, torch.full_like(mass, INF), torch.zeros_like(mass))
    if math.isnan(limit):
        raise ValueError("an f-divergence limit f(0) or f*(0) evaluated to nan; override f_zero / f_star_zero")
    return torch.where(mask, mass * limit, torch.zeros_like(mass))


# -- f-DPO links on extreme log-ratios ------------------------------------------------------------
# Summed sequence log-ratios of -100 to -200 nats are ordinary in DPO, so a link built on exp() overflows
# float32 (exp(89) = inf) exactly when training moves the policy. Exponential links therefore follow
# exp() up to an exponent of LINK_EXP_CAP and continue along the tangent beyond it: the link stays
# strictly increasing (the order of log-ratios is kept), C^1, and finite in value and gradient for every
# finite float32 input; what the cap changes is the growth beyond it (linear with slope e^cap instead of
# exponential). 30 keeps the square of a link difference at |r| = 1e4 nats (IPO) and its gradient below
# float32's maximum (e^30 * 1e4 ~ 1e17; squared 1e34 < 3.4e38). Below the cap the link is exact.
LINK_EXP_CAP = 30.0


def capped_expm1(x: torch.Tensor, cap: float = LINK_EXP_CAP) -> torch.Tensor:
    """expm1(x) for x <= cap, continued linearly beyond: expm1(cap) + e^cap (x - cap). Same shape as x."""
    return torch.expm1(x.clamp(max=cap)) + math.exp(cap) * (x - cap).clamp(min=0.0)


def tangent_extended(g, r: torch.Tensor, knots: tuple[float, float, float, float]) -> torch.Tensor:
    """``g(r)`` on [lo, hi], continued along its tangents beyond; ``knots`` = (lo, hi, g'(lo), g'(hi))."""
    lo, hi, slope_lo, slope_hi = knots
    return g(r.clamp(lo, hi)) + slope_hi * (r - hi).clamp(min=0.0) + slope_lo * (r - lo).clamp(max=0.0)


def tangent_knots(g, cap: float = LINK_EXP_CAP) -> tuple[float, float, float, float]:
    """Where a generic link leaves g(r) = f'(exp r) for its tangent: (lo, hi, g'(lo), g'(hi)).

    Each knot starts at -/+ ``cap`` and moves towards 0 until |g| and |g'| there are at most e^cap (float64
    autograd), so a link growing faster than e^r (e.g. f'(u) ~ u^2) is bounded like the built-ins; a
    non-finite slope becomes 0.
    """
    bound = math.exp(cap)
    knots = []
    for sign in (-1.0, 1.0):
        c = cap
        while True:
            x = torch.tensor(sign * c, dtype=torch.float64, requires_grad=True)
            with torch.enable_grad():
                y = g(x)
                (slope,) = torch.autograd.grad(y, x, allow_unused=True)
            value, slope = float(y.detach()), (0.0 if slope is None else float(slope))
            if c <= 1.0 or (abs(value) <= bound and abs(slope) <= bound):
                break
            c *= 0.9
        knots.append((sign * c, slope if math.isfinite(slope) else 0.0))
    (lo, s_lo), (hi, s_hi) = knots
    return lo, hi, s_lo, s_hi


# -- divergences near p = q ---------------------------------------------------------------------------
# Per-token terms q f(p/q) that are second order in d = log p - log q must be computed as such: forms like
# p (log p - log m) + q (log q - log m) cancel their first-order parts and, in float32, leave rounding of
# the size of the result (JS lost every digit and went negative). The helpers below are exact to a few ulps
# relative to the result for every d; the first-party terms are >= 0 token by token, so D >= 0 always.
NEAR = 1.0  # |d| (or |x|) below which the series / small-argument forms are used


_EXPM1MX_COEFS = tuple(1.0 / math.factorial(k) for k in range(2, 18))  # 1/2!, ..., 1/17!


# Terms of the series needed for |t| < 1/2: the first omitted one, (1/2)^(k-2) 2 / k! relative to t^2 / 2, is
# below 1e-17 at k = 18 (float64) and about 2e-9 at k = 10 (float32, half an ulp = 6e-8).
_EXPM1MX_TERMS = {torch.float64: len(_EXPM1MX_COEFS), torch.float32: 8}


def _expm1mx_value(t: torch.Tensor) -> torch.Tensor:
    small = t.abs() < 0.5
    ts = torch.where(small, t, torch.zeros_like(t))  # [...]
    coefs = _EXPM1MX_COEFS[:_EXPM1MX_TERMS.get(t.dtype, len(_EXPM1MX_COEFS))]
    acc = torch.full_like(ts, coefs[-1])
    for c in reversed(coefs[:-1]):  # Horner: sum_k t^k / k!, in place (no graph is recorded here)
        acc.mul_(ts).add_(c)
    acc.mul_(ts).mul_(ts)
    tl = torch.where(small, torch.ones_like(t), t)
    return torch.where(small, acc, torch.expm1(tl).sub_(tl))


class _Expm1mx(torch.autograd.Function):
    """Value from the series / ``expm1(t) - t``; derivative ``expm1(t)`` (exact, one op): autograd through the
    Horner loop would keep ~20 ``[..., V]`` temporaries per call and run ~40 ops back, which is most of an
    explicit penalty's cost over a 49k vocabulary."""

    @staticmethod
    def forward(ctx, t):
        ctx.save_for_backward(t)
        return _expm1mx_value(t)

    @staticmethod
    def backward(ctx, grad):
        (t,) = ctx.saved_tensors
        return grad * torch.expm1(t)  # differentiable again: d/dt expm1(t) = e^t


def expm1mx(t: torch.Tensor) -> torch.Tensor:
    """e^t - 1 - t without cancellation: Taylor series for |t| < 1/2 (to t^17 in float64, t^9 in float32: exact to
    rounding), expm1(t) - t beyond; gradient expm1(t)."""
    if t.requires_grad and torch.is_grad_enabled():
        return _Expm1mx.apply(t)
    return _expm1mx_value(t)


def near_far(d: torch.Tensor, near, far) -> torch.Tensor:
    """``near(d)`` where |d| < NEAR else ``far()``; ``near`` only ever sees |d| < NEAR (finite gradients)."""
    close = d.abs() < NEAR
    return torch.where(close, near(torch.where(close, d, torch.zeros_like(d))), far())


def sqrt_gap(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """sqrt(p) - sqrt(q) from log-masses, as sqrt(q) expm1(d/2) near p = q (no cancellation). [..., V]"""
    d = logp - logq
    return near_far(d, lambda dn: torch.exp(0.5 * logq) * torch.expm1(0.5 * dn),
                    lambda: torch.exp(0.5 * logp) - torch.exp(0.5 * logq))
