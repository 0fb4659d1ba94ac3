"""Reusable finiteness checks for f-DPO links and preference losses on extreme inputs.

Summed sequence log-ratios r = log pi(y|x) - log pi_ref(y|x) of -100 to -200 nats are ordinary once
training moves the policy, and a single overflow turns the loss and every gradient into NaN. These
checks state the contract every link and loss (first- or third-party) must meet in float32:

* :func:`check_link_finite`: ``divergence.link(r)`` and its gradient are finite for finite ``r``
  (the property suite draws ``|r| <= EXTREME_LOG_RATIO``).
* :func:`check_objective_finite`: the per-pair loss of the margin ``beta * (psi(r+) - psi(r-))``
  built from that link, and its gradients with respect to ``r+`` and ``r-``, are finite.
* :func:`check_loss_limits`: at margins of +-inf the loss and its gradient are never NaN (a finite
  mathematical limit must come out finite, e.g. -log sigmoid(+inf) = 0).

They raise ``AssertionError`` naming the component and the offending input, so they can be called
from any test runner (``dpok_framework.testing`` builds hypothesis properties on them).
"""

from __future__ import annotations

import torch

EXTREME_LOG_RATIO = 1e4  # nats: the range of summed log-ratios every link must survive in float32


def _name(component) -> str:
    return getattr(component, "name", type(component).__name__)


def _first_bad(mask: torch.Tensor, *tensors: torch.Tensor) -> str:
    i = int((~mask).nonzero()[0, 0]) if mask.ndim else 0
    return ", ".join(f"{float(t.reshape(-1)[i]) if t.ndim else float(t)!r}" for t in tensors)


def check_link_finite(divergence, r: torch.Tensor) -> None:
    """Assert ``divergence.link(r)`` and d link / d r are finite at every (finite) entry of ``r``."""
    r = r.detach().clone().requires_grad_(True)
    psi = divergence.link(r)
    (grad,) = torch.autograd.grad(psi.sum(), r)
    ok = torch.isfinite(psi).reshape(-1)
    assert bool(ok.all()), f"link {_name(divergence)!r}: psi(r) not finite at r={_first_bad(ok, r.detach())}"
    ok = torch.isfinite(grad).reshape(-1)
    assert bool(ok.all()), f"link {_name(divergence)!r}: d psi/dr not finite at r={_first_bad(ok, r.detach())}"


def check_objective_finite(divergence, loss, r_pos: torch.Tensor, r_neg: torch.Tensor, beta: float = 0.1,
                           lengths: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
    """Assert the per-pair loss of ``m = beta * (psi(r+) - psi(r-))`` and its gradients in r+/r- are finite.

    ``r_pos``, ``r_neg`` ``[B]``; ``lengths`` (completion token counts, default 1) go through the loss's
    ``link_scores`` exactly as in the objective.
    """
    rp = r_pos.detach().clone().requires_grad_(True)
    rn = r_neg.detach().clone().requires_grad_(True)
    r = torch.cat([rp, rn])  # [2B], chosen rows first
    n = torch.ones_like(r) if lengths is None else torch.cat(lengths).to(r.dtype)
    psi = loss.link_scores(divergence, r, n)  # [2B]
    B = rp.shape[0]
    per_pair = loss(beta * (psi[:B] - psi[B:]), beta)  # [B]
    gp, gn = torch.autograd.grad(per_pair.sum(), (rp, rn))
    where = f"link {_name(divergence)!r} with loss {_name(loss)!r}"
    for label, t in (("loss", per_pair), ("d loss/d r+", gp), ("d loss/d r-", gn)):
        ok = torch.isfinite(t)
        assert bool(ok.all()), f"{where}: {label} not finite at (r+, r-)=({_first_bad(ok, rp.detach(), rn.detach())})"


def check_loss_limits(loss, beta: float = 0.1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Assert the loss and its gradient are not NaN at margins -inf, +inf and +-float max; returns L there.

    Callers compare the returned values ``[4]`` (order: -inf, -max, +max, +inf) with known limits.
    """
    big = torch.finfo(dtype).max
    m = torch.tensor([float("-inf"), -big, big, float("inf")], dtype=dtype, requires_grad=True)
    out = loss(m, beta)
    (grad,) = torch.autograd.grad(out.sum(), m)
    for label, t in (("L(m)", out), ("dL/dm", grad)):
        ok = ~torch.isnan(t)
        assert bool(ok.all()), f"loss {_name(loss)!r}: {label} is nan at margin m={_first_bad(ok, m.detach())}"
    return out.detach()
