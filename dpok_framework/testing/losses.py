"""The preference-loss contract: finite values and gradients over extreme margins (float32 and float64),
non-increasing in the margin where declared (``non_increasing``), the exact values the loss documents
(``documented_values()``), ``[B] -> [B]`` shapes and float64 gradcheck."""

from __future__ import annotations

from typing import Callable

import torch

from ..components.finiteness import check_loss_limits
from .results import ContractViolation, violated
from .samples import EXTREME_MARGINS

BETAS = (0.01, 0.1, 1.0, 10.0)


def check_finite(loss, margins=EXTREME_MARGINS, betas=BETAS) -> None:
    """Finite value and dL/dm over ``margins``; never NaN at margins +-inf and +-float max
    (:func:`dpok_framework.components.finiteness.check_loss_limits`), in float64 and float32."""
    for dtype in (torch.float64, torch.float32):
        for beta in betas:
            m = torch.tensor(margins, dtype=dtype, requires_grad=True)  # [B]
            out = loss(m, beta)
            violated(tuple(out.shape) == tuple(m.shape), "shape",
                     f"{loss.name}: [B] margins gave shape {tuple(out.shape)}")
            bad = ~torch.isfinite(out.detach())
            violated(not bool(bad.any()), "finite",
                     f"{loss.name}: non-finite loss {out.detach()[bad].tolist()} at margins "
                     f"{m.detach()[bad].tolist()} (beta={beta:g}, {dtype})")
            out.sum().backward()
            bad = ~torch.isfinite(m.grad)
            violated(not bool(bad.any()), "finite_gradients",
                     f"{loss.name}: non-finite dL/dm at margins {m.detach()[bad].tolist()} (beta={beta:g}, {dtype})")
            try:
                check_loss_limits(loss, beta=beta, dtype=dtype)
            except AssertionError as exc:
                raise ContractViolation("margin_limits", f"{loss.name}: {str(exc).splitlines()[0]} (beta={beta:g}, {dtype})") from None


def check_non_increasing(loss, betas=BETAS) -> None:
    """L(m) is non-increasing in m: a larger preference margin never costs more."""
    m = torch.cat([torch.tensor(EXTREME_MARGINS, dtype=torch.float64), torch.linspace(-60, 60, 2401, dtype=torch.float64)])
    m = m.sort().values  # [M]
    for beta in betas:
        with torch.no_grad():
            out = loss(m, beta)  # [M]
        rise = out[1:] - out[:-1]
        tol = 1e-12 * (1.0 + out[:-1].abs())
        bad = rise > tol
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise ContractViolation("non_increasing",
                                    f"{loss.name}: declares non_increasing=True but L({float(m[i]):.6g}) = "
                                    f"{float(out[i]):.6g} < L({float(m[i + 1]):.6g}) = {float(out[i + 1]):.6g} "
                                    f"(beta={beta:g})")


def check_documented_values(loss) -> None:
    for margin, beta, want in loss.documented_values():
        with torch.no_grad():
            got = float(loss(torch.tensor([float(margin)], dtype=torch.float64), float(beta))[0])
        violated(abs(got - want) <= 1e-9 * (1.0 + abs(want)), "documented_values",
                 f"{loss.name}: L({margin:g}; beta={beta:g}) = {got:.12g}, documented {want:.12g}")


def check_gradcheck(loss) -> None:
    m = torch.tensor([-3.0, -0.5, 0.2, 2.5], dtype=torch.float64, requires_grad=True)
    try:
        torch.autograd.gradcheck(lambda t: loss(t, 0.1), (m,), eps=1e-6, atol=1e-6)
    except Exception as exc:
        raise ContractViolation("gradients", f"{loss.name}: float64 gradcheck failed: {str(exc).splitlines()[0]}") from None


Make = Callable[[], torch.nn.Module]

CHECKS = [
    ("finite", lambda c: True, lambda make, seed, samples: check_finite(make())),
    ("non_increasing", lambda c: bool(getattr(c, "non_increasing", False)),
     lambda make, seed, samples: check_non_increasing(make())),
    ("documented_values", lambda c: bool(c.documented_values()),
     lambda make, seed, samples: check_documented_values(make())),
    ("gradients", lambda c: True, lambda make, seed, samples: check_gradcheck(make())),
]
