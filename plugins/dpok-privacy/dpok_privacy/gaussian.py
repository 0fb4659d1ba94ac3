"""The Gaussian mechanism on the (augmented) second-moment matrix of clipped embeddings ("Analyze Gauss").

Neighbouring relation: add/remove one record.  Each embedding is clipped to ``||e|| <= C`` and augmented with a
constant coordinate ``b``: ``e~ = (e, b)`` in R^{d+1}.  The sufficient statistic is

    centred:      T(D) = sum_i e~_i e~_i^T = [[sum e e^T, b sum e], [b sum e^T, b^2 N]]        [d+1, d+1]
    not centred:  T(D) = blockdiag(sum e e^T, b^2 N)                                            [d+1, d+1]

so one matrix carries the second moment, the sum (for the mean) and the count N (which is private under
add/remove).  Adding or removing a record e changes T by

    centred:      e~ e~^T,               ||e~ e~^T||_F = ||e~||^2 = ||e||^2 + b^2 <= C^2 + b^2
    not centred:  blockdiag(e e^T, b^2), ||.||_F = sqrt(||e||^4 + b^4) <= sqrt(C^4 + b^4)

which is the L2 sensitivity Delta of vec(T) in R^{(d+1)^2}.  The release is

    T^ = T + (G + G^T) / 2,   G_jk iid N(0, (z Delta)^2)

i.e. the Gaussian mechanism with noise multiplier z on vec(T), followed by symmetrisation (post-processing,
free).  Noise variances of T^: (z Delta)^2 on the diagonal, (z Delta)^2 / 2 off the diagonal.
"""

from __future__ import annotations

import math

import torch


def clip_rows(x: torch.Tensor, clip: float) -> torch.Tensor:
    """Scale every row to L2 norm at most ``clip``: ``e * min(1, C / ||e||)``.  ``[N, d] -> [N, d]``."""
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)  # [N, 1]
    # C / max(||e||, C) = min(1, C/||e||) and never divides by zero
    return x * (clip / norms.clamp_min(clip))


def sensitivity(clip: float, offset: float, center: bool) -> float:
    """Frobenius (L2) add/remove-one sensitivity of :func:`augmented_statistic` for ``||e|| <= clip``."""
    if center:
        return clip ** 2 + offset ** 2
    return math.hypot(clip ** 2, offset ** 2)


def augmented_statistic(x: torch.Tensor, offset: float, center: bool) -> torch.Tensor:
    """``T(D)`` of the module docstring for already-clipped rows ``x`` ``[N, d]``, in float64 ``[d+1, d+1]``."""
    x = x.to(torch.float64)
    n, d = x.shape
    t = x.new_zeros(d + 1, d + 1)
    t[:d, :d] = x.T @ x                 # [d, N] @ [N, d] -> [d, d]  second moment sum e e^T
    if center:
        s = x.sum(0)                    # [d]  sum e
        t[:d, d] = offset * s
        t[d, :d] = offset * s
    t[d, d] = offset ** 2 * n
    return t


def symmetric_gaussian(dim: int, std: float, generator: torch.Generator | None = None,
                       device: torch.device | str = "cpu") -> torch.Tensor:
    """``(G + G^T) / 2`` with ``G`` ``[dim, dim]`` iid N(0, std^2), float64."""
    g = torch.randn(dim, dim, dtype=torch.float64, generator=generator) * std  # [dim, dim]
    return ((g + g.T) / 2).to(device)
