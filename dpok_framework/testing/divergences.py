"""The divergence contract: D(p, p) = 0 and D >= 0 (finite, with finite gradients where the supports agree),
and every axiom the divergence declares (``symmetric``, ``upper_bound``, ``is_f_divergence``: data
processing and joint convexity; ``has_link``: a finite non-decreasing link consistent with f' through the
gradient of D), batching, float32/float64 agreement and float64 gradcheck.

Check functions take a built divergence and float64 ``[B, V]`` log-probabilities (``-inf`` for zero mass);
the ``CHECKS`` list runs them on seeded random inputs (see :mod:`.kernels` for the calling convention).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..components.finiteness import EXTREME_LOG_RATIO, check_link_finite
from .results import ContractViolation, violated
from .samples import merge_bins, mix, random_log_dists, random_partition

TOL = 1e-9  # float64 inputs


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-7, atol: float = TOL) -> bool:
    both_inf = torch.isinf(a) & torch.isinf(b) & (a.sign() == b.sign())
    return bool((both_inf | torch.isclose(a, b, rtol=rtol, atol=atol)).all())


def _worst(a: torch.Tensor, b: torch.Tensor) -> str:
    diff = (a - b).abs().nan_to_num(nan=math.inf)
    i = int(diff.flatten().argmax())
    return f"{float(a.flatten()[i]):.10g} vs {float(b.flatten()[i]):.10g}"


def logsm(x: torch.Tensor) -> torch.Tensor:
    return x - torch.logsumexp(x, dim=-1, keepdim=True)


def check_identity(d, lp: torch.Tensor, tol: float = TOL) -> None:
    """D(p, p) = 0 with shape ``[B]``."""
    tol = declared_tolerance(d, tol)
    with torch.no_grad():
        same = d(lp, lp)
    violated(tuple(same.shape) == tuple(lp.shape[:-1]), "shape", f"{d.name}: D(p, p) has shape {tuple(same.shape)}, "
                                                                  f"expected {tuple(lp.shape[:-1])}")
    worst = float(same.abs().max()) if same.numel() else 0.0
    violated(worst <= tol, "identity", f"{d.name}: D(p, p) = {float(same.flatten()[int(same.abs().argmax())]):.6g} "
                                       f"!= 0 (max |D(p, p)| {worst:.3g} > {tol:g})")


def declared_tolerance(d, tol: float) -> float:
    """``tol``, or the accuracy the divergence declares for its values (``tolerance``, iterative solvers)."""
    return max(tol, float(getattr(d, "tolerance", 0.0) or 0.0))


def check_common_support(d, lp: torch.Tensor, lq: torch.Tensor, tol: float = TOL, batching: bool = True,
                         rtol: float = 1e-7) -> None:
    """D(p, q) >= 0 and finite with finite gradients; the declared symmetry and upper bound; batched rows."""
    tol = declared_tolerance(d, tol)
    p, q = lp.clone().requires_grad_(True), lq.clone().requires_grad_(True)
    v = d(p, q)
    vd = v.detach()
    violated(bool(torch.isfinite(vd).all()), "finite", f"{d.name}: D(p, q) not finite on a common support: {v.tolist()}")
    violated(bool((vd >= -tol).all()), "non_negative", f"{d.name}: D(p, q) = {float(vd.min()):.6g} < 0")
    v.sum().backward()
    violated(bool(torch.isfinite(p.grad).all() and torch.isfinite(q.grad).all()), "finite_gradients",
             f"{d.name}: non-finite gradient of D on a common support")
    v = v.detach()
    with torch.no_grad():
        check_declared(d, lp, lq, v, tol, rtol)
        if not batching:
            return
        rows = torch.stack([d(lp[i], lq[i]) for i in range(lp.shape[0])])
        violated(_close(v, rows, rtol=1e-10, atol=1e-12), "batching",
                 f"{d.name}: batched value differs from row-by-row: {_worst(v, rows)}")


def check_declared(d, lp: torch.Tensor, lq: torch.Tensor, v: torch.Tensor, tol: float = TOL,
                   rtol: float = 1e-7) -> None:
    if d.symmetric:
        back = d(lq, lp)
        violated(_close(v, back, rtol=rtol, atol=tol), "symmetric",
                 f"{d.name}: declares symmetric=True but D(p, q) != D(q, p): {_worst(v, back)}")
    if d.upper_bound is not None:
        violated(bool(torch.isfinite(v).all() and (v <= d.upper_bound + tol).all()), "upper_bound",
                 f"{d.name}: declares upper_bound={d.upper_bound:g} but D = {float(v.max()):.6g}")


def check_any_zeros(d, lp: torch.Tensor, lq: torch.Tensor, tol: float = TOL) -> None:
    """Arbitrary zero masses (disjoint supports included): no NaN in values or gradients, D >= 0, declared
    symmetry; bounded divergences stay finite and within the bound."""
    tol = declared_tolerance(d, tol)
    p, q = lp.clone().requires_grad_(True), lq.clone().requires_grad_(True)
    v = d(p, q)
    vd = v.detach()
    violated(not bool(torch.isnan(vd).any()), "no_nan", f"{d.name}: NaN value with zero masses: {vd.tolist()}")
    violated(bool((vd >= -tol).all()), "non_negative", f"{d.name}: D(p, q) = {float(vd.min()):.6g} < 0")
    v.sum().backward()
    violated(bool(torch.isfinite(p.grad).all() and torch.isfinite(q.grad).all()), "finite_gradients",
             f"{d.name}: non-finite gradient with zero masses")
    with torch.no_grad():
        check_declared(d, lp, lq, v.detach(), tol)


def check_bound_attained(d) -> None:
    """A bounded f-divergence equals its bound on disjoint supports (Vajda)."""
    lp = torch.tensor([[0.0, -math.inf, -math.inf], [math.log(0.3), math.log(0.7), -math.inf]], dtype=torch.float64)
    lq = torch.tensor([[-math.inf, math.log(0.5), math.log(0.5)], [-math.inf, -math.inf, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        v = d(lp, lq)
    violated(torch.allclose(v, torch.full((2,), d.upper_bound, dtype=torch.float64), atol=1e-9), "upper_bound",
             f"{d.name}: on disjoint supports D = {v.tolist()}, expected the declared bound {d.upper_bound:g}")


def check_f_axioms(d, p1, q1, p2, q2, ids: torch.Tensor, groups: int, lam: float) -> None:
    """Data processing (merging bins never increases D) and joint convexity."""
    with torch.no_grad():
        before, after = d(p1, q1), d(merge_bins(p1, ids, groups), merge_bins(q1, ids, groups))
        violated(bool((after <= before + 1e-9 * (1 + before.abs())).all()), "data_processing",
                 f"{d.name}: merging bins increased D from {before.tolist()} to {after.tolist()}")
        lhs = d(mix(p1, p2, lam), mix(q1, q2, lam))
        rhs = lam * before + (1 - lam) * d(p2, q2)
    violated(bool((lhs <= rhs + 1e-9 * (1 + rhs.abs())).all()), "joint_convexity",
             f"{d.name}: D(mix) = {lhs.tolist()} > mix of D = {rhs.tolist()} at lambda={lam:.3g}")


def check_link_shape(d) -> None:
    """A declared link is finite and non-decreasing on [-20, 20] and keeps the input's shape; value and
    gradient stay finite for |r| up to ``EXTREME_LOG_RATIO`` (1e4 nats) in float32 and float64
    (:func:`dpok_framework.components.finiteness.check_link_finite`: summed sequence log-ratios of hundreds
    of nats are ordinary in training)."""
    r = torch.linspace(-20.0, 20.0, 401, dtype=torch.float64)
    with torch.no_grad():
        psi = d.link(r)
    violated(tuple(psi.shape) == tuple(r.shape) and bool(torch.isfinite(psi).all()), "link_finite",
             f"{d.name}: link(r) not finite (or wrong shape {tuple(psi.shape)}) on r in [-20, 20]")
    drop = float((psi[:-1] - psi[1:]).max())
    violated(drop <= 1e-12, "link_monotone",
             f"{d.name}: link decreases by {drop:.3g} somewhere on [-20, 20] (psi(r) = f'(exp r) is non-decreasing)")
    violated(d.is_f_divergence, "link_declaration",
             f"{d.name}: has_link=True needs is_f_divergence=True (the link is psi(r) = f'(exp r))")
    for dtype in (torch.float32, torch.float64):
        far = torch.linspace(-EXTREME_LOG_RATIO, EXTREME_LOG_RATIO, 2001, dtype=dtype)  # [2001], step 10 nats
        try:
            check_link_finite(d, far)
        except AssertionError as exc:
            raise ContractViolation("link_finite", f"{d.name}: {str(exc).splitlines()[0]} ({dtype}, |r| <= {EXTREME_LOG_RATIO:g}: "
                                                   f"clamp the link, see docs/divergences.md)") from None


def check_link_gradient(d, lp: torch.Tensor, lq: torch.Tensor) -> None:
    """dD/dp_v = f'(p_v/q_v) up to a constant, so link(log p_v - log q_v) - link_scale * dD/dp_v is constant in v."""
    p = lp.clone().requires_grad_(True)
    d(p, lq).sum().backward()
    grad_p = p.grad / lp.exp()  # dD/dp_v, [B, V]
    r = (lp - lq).detach()  # [B, V]
    with torch.no_grad():
        psi = d.link(r)  # [B, V]
        gap = psi - d.link_scale * grad_p  # [B, V]
    # only where the link declares itself exact (a documented clamp may take over beyond link_exact_within)
    exact = r.abs() <= float(d.link_exact_within)  # [B, V]
    rows = exact.sum(-1) >= 2  # [B]: a constant needs two points
    if not bool(rows.any()):
        return
    exact = exact[rows]
    gap = torch.where(exact, gap[rows], torch.zeros_like(gap[rows]))  # [B', V], 0 outside the exact range
    size = float(torch.where(exact, psi[rows].abs(), torch.zeros_like(gap)).max())  # largest |psi| compared
    centre = gap.sum(-1, keepdim=True) / exact.sum(-1, keepdim=True)  # [B', 1]
    spread = float(torch.where(exact, (gap - centre).abs(), torch.zeros_like(gap)).max())
    # float64 rounding of psi and of the autograd gradient grows with |psi| (e^(a r) reaches 1e10 inside the
    # exact range): 1e-10 relative to it, far below the O(1) relative gap of a wrong link
    violated(spread <= 1e-6 * (1 + float(gap.abs().max())) + 1e-10 * size, "link_consistency",
             f"{d.name}: link(r) - {d.link_scale:g} * dD/dp is not constant across the vocabulary "
             f"(spread {spread:.4g}): the link is not link_scale * f'(exp r) of this divergence")


def check_float32(d) -> None:
    g = torch.Generator().manual_seed(0)
    lp = logsm(torch.randn(4, 50, generator=g, dtype=torch.float64) * 2)
    lq = logsm(torch.randn(4, 50, generator=g, dtype=torch.float64) * 2)
    with torch.no_grad():
        v64, v32 = d(lp, lq), d(lp.float(), lq.float())
    violated(v32.dtype == torch.float32, "dtype", f"{d.name}: float32 inputs gave {v32.dtype}")
    violated(torch.allclose(v32.double(), v64, rtol=1e-4, atol=1e-5), "float32",
             f"{d.name}: float32 and float64 values differ: {_worst(v32.double(), v64)}")


def check_gradcheck(d) -> None:
    g = torch.Generator().manual_seed(1)
    for _ in range(2):
        lp = logsm(torch.randn(2, 5, generator=g, dtype=torch.float64)).requires_grad_(True)
        lq = logsm(torch.randn(2, 5, generator=g, dtype=torch.float64)).requires_grad_(True)
        try:
            torch.autograd.gradcheck(d, (lp, lq), eps=1e-6, atol=1e-5, rtol=1e-4)
        except Exception as exc:
            raise ContractViolation("gradients", f"{d.name}: float64 gradcheck failed: {str(exc).splitlines()[0]}") from None


# -- the contract ---------------------------------------------------------------------------------------
Make = Callable[[], torch.nn.Module]


def _dims(seed: int, i: int) -> tuple[int, int]:
    g = torch.Generator().manual_seed(seed * 131 + i)
    return int(torch.randint(1, 4, (1,), generator=g)), int(torch.randint(2, 8, (1,), generator=g))


def _identity_and_support(make: Make, seed: int, samples: int) -> None:
    d = make()
    for i in range(samples):
        b, v = _dims(seed, i)
        lp, lq = random_log_dists(2, b, v, "common", seed * 17 + i)
        check_identity(d, lp)
        check_identity(d, random_log_dists(1, b, v, "none", seed * 19 + i)[0])
        check_common_support(d, lp, lq)


def _any_zeros(make: Make, seed: int, samples: int) -> None:
    d = make()
    for i in range(samples):
        b, v = _dims(seed, i)
        check_any_zeros(d, *random_log_dists(2, b, v, "any", seed * 23 + i))


def _f_axioms(make: Make, seed: int, samples: int) -> None:
    d = make()
    if d.upper_bound is not None:
        check_bound_attained(d)
    for i in range(samples):
        b, v = _dims(seed, i)
        ids, groups = random_partition(v, seed * 29 + i)
        lam = float(torch.rand(1, generator=torch.Generator().manual_seed(seed + i)))
        check_f_axioms(d, *random_log_dists(4, b, v, "common", seed * 37 + i), ids, groups, lam)


def _link(make: Make, seed: int, samples: int) -> None:
    d = make()
    check_link_shape(d)
    for i in range(samples):
        b, v = _dims(seed, i)
        check_link_gradient(d, *random_log_dists(2, b, max(v, 3), "none", seed * 41 + i))


def _numerics(make: Make, seed: int, samples: int) -> None:
    d = make()
    check_float32(d)
    check_gradcheck(d)


CHECKS = [
    ("identity_and_axioms", lambda d: True, _identity_and_support),
    ("zero_masses", lambda d: True, _any_zeros),
    ("f_divergence_axioms", lambda d: bool(d.is_f_divergence), _f_axioms),
    ("link", lambda d: bool(d.has_link), _link),
    ("numerics", lambda d: True, _numerics),
]
