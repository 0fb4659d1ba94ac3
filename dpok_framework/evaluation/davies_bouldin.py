"""Davies-Bouldin score, in input space and in a kernel's feature space (kernel trick, exact).

Davies & Bouldin (1979). For clusters C_1..C_k with centroids mu_i:

    S_i  = (1/|C_i|) sum_{x in C_i} ||x - mu_i||            (mean distance to the centroid)
    M_ij = ||mu_i - mu_j||
    DB   = (1/k) sum_i max_{j != i} (S_i + S_j) / M_ij        (lower = better separated)

Conventions follow ``sklearn.metrics.davies_bouldin_score``: M_ij = 0 is treated as +inf (that pair never
wins the max), and the score is 0 when every S_i or every M_ij is (numerically) zero.

In the feature space of a PSD kernel K (phi(x) . phi(y) = K(x, y)), with A = C_i, B = C_j:

    ||phi(x) - mu_A||^2 = K(x, x) - (2/|A|) sum_{a in A} K(x, a) + (1/|A|^2) sum_{a, a' in A} K(a, a')
    ||mu_A - mu_B||^2   = mean K(A, A) - 2 mean K(A, B) + mean K(B, B)

so the score under a kernel needs no explicit feature map; it is computed from Gram blocks of ``chunk``
rows (memory O(chunk * n), time O(n^2 d)). For a linear kernel it equals the Euclidean score.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

GramFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x [n, d], y [m, d]) -> [n, m]


def _labels_index(labels) -> tuple[np.ndarray, int]:
    lab = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).ravel()
    uniq, inv = np.unique(lab, return_inverse=True)
    if uniq.size < 2:
        raise ValueError(f"Davies-Bouldin needs at least 2 clusters, got {uniq.size} distinct label(s)")
    return inv, int(uniq.size)


def _score(S: np.ndarray, M: np.ndarray) -> float:
    """DB from per-cluster scatter S [k] and centroid distances M [k, k]."""
    if np.allclose(S, 0) or np.allclose(M, 0):
        return 0.0
    M = M.copy()
    M[M == 0] = np.inf
    R = (S[:, None] + S[None, :]) / M  # [k, k]
    np.fill_diagonal(R, -np.inf)
    return float(R.max(axis=1).mean())


def davies_bouldin(points, labels) -> float:
    """Euclidean Davies-Bouldin score of ``points`` [n, d] grouped by ``labels`` [n] (float64 inside)."""
    x = torch.as_tensor(np.asarray(points.detach().cpu() if isinstance(points, torch.Tensor) else points),
                        dtype=torch.float64)
    if x.ndim != 2 or x.shape[0] != len(labels):
        raise ValueError(f"points must be [n, d] with n = len(labels); got {tuple(x.shape)} and {len(labels)} labels")
    inv, k = _labels_index(labels)
    inv_t = torch.as_tensor(inv)
    cents = torch.stack([x[inv_t == i].mean(0) for i in range(k)])                     # [k, d]
    S = np.array([(x[inv_t == i] - cents[i]).norm(dim=1).mean().item() for i in range(k)])  # [k]
    M = torch.cdist(cents, cents).numpy()                                                  # [k, k]
    return _score(S, M)


def kernel_davies_bouldin(gram_fn: GramFn, points: torch.Tensor, labels, chunk: int = 1024,
                          diag: torch.Tensor | None = None) -> float:
    """Davies-Bouldin score in the feature space of the kernel whose Gram blocks ``gram_fn`` returns.

    ``gram_fn(x, y)`` -> ``[n, m]`` (e.g. ``kernel.pairwise``); ``points`` ``[n, d]``; ``diag`` optional
    ``[n]`` K(x_i, x_i) (default: read off the Gram blocks). Accumulates in float64.
    """
    if points.ndim != 2 or points.shape[0] != len(labels):
        raise ValueError(f"points must be [n, d] with n = len(labels); got {tuple(points.shape)} and "
                         f"{len(labels)} labels")
    inv, k = _labels_index(labels)
    n = points.shape[0]
    onehot = torch.zeros(n, k, dtype=torch.float64)
    onehot[torch.arange(n), torch.as_tensor(inv)] = 1.0                 # [n, k]
    sizes = onehot.sum(0)                                                # [k]
    row_sums = torch.empty(n, k, dtype=torch.float64)                    # sum_{a in C_j} K(x_i, a)
    kdiag = torch.empty(n, dtype=torch.float64)
    with torch.no_grad():
        for lo in range(0, n, chunk):
            g = gram_fn(points[lo:lo + chunk], points).to(torch.float64)  # [c, n]
            row_sums[lo:lo + chunk] = g @ onehot                          # [c, k]
            if diag is None:
                kdiag[lo:lo + chunk] = g[torch.arange(g.shape[0]), torch.arange(lo, lo + g.shape[0])]
    if diag is not None:
        kdiag = diag.detach().to(torch.float64).reshape(n)
    block = onehot.T @ row_sums / (sizes[:, None] * sizes[None, :])      # [k, k] mean K(C_i, C_j)
    own = row_sums[torch.arange(n), torch.as_tensor(inv)] / sizes[torch.as_tensor(inv)]  # [n]
    sq = kdiag - 2.0 * own + block.diagonal()[torch.as_tensor(inv)]      # [n] ||phi(x) - mu||^2
    dist = sq.clamp_min(0.0).sqrt()                                      # rounding can make sq < 0
    S = (onehot.T @ dist / sizes).numpy()                                # [k]
    bd = block.diagonal()
    M = (bd[:, None] - 2.0 * block + bd[None, :]).clamp_min(0.0).sqrt().numpy()  # [k, k]
    return _score(S, M)


def chosen_rejected_davies_bouldin(e_chosen: torch.Tensor, e_rejected: torch.Tensor,
                                   gram_fn: GramFn | None = None, chunk: int = 1024) -> float:
    """DB of the two clusters {e_y+} and {e_y-} ([n, d] each); Euclidean if ``gram_fn`` is None."""
    pts = torch.cat([e_chosen, e_rejected], 0)                           # [n+ + n-, d]
    labels = np.concatenate([np.zeros(len(e_chosen), int), np.ones(len(e_rejected), int)])
    if gram_fn is None:
        return davies_bouldin(pts, labels)
    return kernel_davies_bouldin(gram_fn, pts, labels, chunk=chunk)
