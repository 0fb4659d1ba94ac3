"""Distance helpers shared by the shift-invariant kernels (no kernel lives here)."""

from __future__ import annotations

import warnings
from typing import Callable

import torch

# The median heuristic looks at no more than this many points (a fixed, seeded subsample): the
# median of ~2M pairwise distances is as stable as the full one and costs O(MAX^2 * d).
MAX_MEDIAN_POINTS = 2048


def sq_dist_pairwise(x: torch.Tensor, y: torch.Tensor,
                     transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """``[n, m]`` squared distances ||T(x_i - y_j)||^2 (>= 0) for a linear map T (default identity),
    accurate at every scale.

    One matmul on a = T(x - c), b = T(y - c) (c the mean of x): ||a||^2 + ||b||^2 - 2 a.b; entries where that expansion cancels
    (d2 < 1e-2 (||a_i||^2 + ||b_j||^2): near-duplicates, distances far below the spread) are recomputed
    as ||T(x_i - y_j)||^2 from the raw inputs (in chunks), exactly as the paired forms do, so
    ``pairwise`` and ``paired`` agree.  The remaining entries carry a relative error below ~100 eps.
    Differentiable everywhere, unlike ``cdist``'s sqrt at 0.
    """
    # distances are shift-invariant: centre the raw inputs first (before T, so T never sees the large
    # common offset) to shrink the norms the expansion subtracts
    center = x.detach().mean(0)  # [d]
    a, b = x - center, y - center  # [n, d], [m, d]
    if transform is not None:
        a, b = transform(a), transform(b)  # [n, k], [m, k]
    aa = (a * a).sum(-1)  # [n]
    bb = (b * b).sum(-1)  # [m]
    norms = aa[:, None] + bb[None, :]  # [n, m]
    d2 = (norms - 2.0 * (a @ b.T)).clamp_min(0.0)  # [n, m]
    with torch.no_grad():
        i, j = (d2 < _CANCEL * norms).nonzero(as_tuple=True)  # [p], [p]
    if i.numel() == 0:
        return d2
    chunks = []
    for s in range(0, i.numel(), _CHUNK):
        diff = x[i[s:s + _CHUNK]] - y[j[s:s + _CHUNK]]  # [c, d]
        if transform is not None:
            diff = transform(diff)
        chunks.append((diff * diff).sum(-1))  # [c]
    return d2.index_put((i, j), torch.cat(chunks))


_CANCEL = 1e-2
_CHUNK = 1 << 14


def sq_dist_paired(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``[n]`` squared distances ||x_i - y_i||^2, computed from the difference (exact, no cancellation)."""
    diff = x - y  # [n, d]
    return (diff * diff).sum(-1)  # [n]


def check_pair(name: str, x: torch.Tensor, y: torch.Tensor, paired: bool) -> None:
    """Raise an actionable error on shapes that cannot be a batch of embedding pairs."""
    if x.dim() != 2 or y.dim() != 2:
        raise ValueError(f"{name} kernel: expected 2-D [n, d] embeddings, got shapes {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"{name} kernel: embedding dims differ ({x.shape[1]} vs {y.shape[1]})")
    if paired and x.shape[0] != y.shape[0]:
        raise ValueError(f"{name} kernel: paired evaluation needs as many rows in x as in y, got "
                         f"{x.shape[0]} and {y.shape[0]}")


def check_embeddings(name: str, embeddings: torch.Tensor) -> torch.Tensor:
    """Validate ``fit`` input: a finite ``[N, d]`` tensor; returns it detached in float64."""
    if not isinstance(embeddings, torch.Tensor) or embeddings.dim() != 2:
        shape = tuple(embeddings.shape) if isinstance(embeddings, torch.Tensor) else type(embeddings).__name__
        raise ValueError(f"{name} kernel: fit() expects a 2-D [N, d] tensor of embeddings, got {shape}")
    if embeddings.shape[0] < 1 or embeddings.shape[1] < 1:
        raise ValueError(f"{name} kernel: fit() got an empty embedding matrix {tuple(embeddings.shape)}")
    e = embeddings.detach().to(torch.float64)
    if not bool(torch.isfinite(e).all()):
        bad = int((~torch.isfinite(e)).any(-1).nonzero()[0, 0])
        raise ValueError(f"{name} kernel: fit() embeddings contain NaN/inf (first bad row {bad})")
    return e


def median_subsample(points: torch.Tensor) -> torch.Tensor:
    """The (at most :data:`MAX_MEDIAN_POINTS`) rows the median heuristic looks at: a fixed, seeded subsample."""
    n = points.shape[0]
    if n <= MAX_MEDIAN_POINTS:
        return points
    g = torch.Generator().manual_seed(0)
    return points[torch.randperm(n, generator=g)[:MAX_MEDIAN_POINTS].to(points.device)]


def median_distance(points: torch.Tensor, name: str) -> float:
    """Median heuristic: the median of ||p_i - p_j|| over pairs i < j of ``points [N, d]`` (float64).

    Up to :data:`MAX_MEDIAN_POINTS` points (seeded subsample).  If the median is 0 (mostly duplicate
    points) the mean of the positive distances is used; with no positive distance at all (one point,
    or all identical) it returns 1.0 and warns.
    """
    points = median_subsample(points)
    n = points.shape[0]
    if n >= 2:
        iu = torch.triu_indices(n, n, offset=1, device=points.device)
        d = sq_dist_pairwise(points, points)[iu[0], iu[1]].sqrt()  # [n(n-1)/2]
        med = float(torch.quantile(d, 0.5))  # numpy-style median (mean of the two middle values)
        if med > 0.0:
            return med
        pos = d[d > 0]
        if pos.numel() > 0:
            return float(pos.mean())
    warnings.warn(f"{name} kernel: median heuristic found no positive distance between the {n} fit "
                  f"embedding(s); using bandwidth 1.0. Fit on more (distinct) embeddings or set it explicitly.",
                  RuntimeWarning, stacklevel=3)
    return 1.0
