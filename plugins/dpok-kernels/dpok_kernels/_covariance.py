"""Covariance estimation with shrinkage and a guarded Cholesky factor (used by the mahalanobis kernel)."""

from __future__ import annotations

import torch


def ledoit_wolf_shrinkage(xc: torch.Tensor) -> float:
    """Ledoit & Wolf (2004) optimal shrinkage delta in [0, 1] towards mu * I, mu = tr(S) / d.

    ``xc [N, d]`` is centred.  Same estimator as ``sklearn.covariance.ledoit_wolf_shrinkage``:
    with S = xc^T xc / N,
        delta2 = ||S - mu I||_F^2 / d,   b2 = (1 / (d N)) * (sum_i ||x_i x_i^T||_F^2 / N - ||S||_F^2)
        shrinkage = min(b2, delta2) / delta2   (0 when b2 = 0, 1 when delta2 = 0).
    """
    n, d = xc.shape
    s = xc.T @ xc / n  # [d, d]
    mu = torch.diagonal(s).sum() / d
    x2 = xc * xc  # [N, d]
    beta_ = (x2.T @ x2).sum()  # sum_i ||x_i||^4 = sum_i ||x_i x_i^T||_F^2
    fro2 = (s * s).sum()  # ||S||_F^2
    beta = (beta_ / n - fro2) / (d * n)
    delta = (fro2 - 2.0 * mu * torch.diagonal(s).sum() + d * mu * mu) / d  # ||S - mu I||_F^2 / d
    if float(delta) <= 0.0:
        return 1.0  # S is already a multiple of I
    return float(torch.clamp(torch.minimum(beta, delta) / delta, 0.0, 1.0))


def shrunk_covariance(e: torch.Tensor, shrinkage: float | str) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(S*, mean, delta) from ``e [N, d]`` (float64): S* = (1 - delta) S + delta * mu * I.

    ``shrinkage`` is a number in [0, 1] or ``"ledoit_wolf"``.  S is the maximum-likelihood covariance
    (divide by N).  With mu = 0 (a single point or identical points) there is no scale information and
    S* = I is returned.
    """
    n, d = e.shape
    mean = e.mean(0)  # [d]
    xc = e - mean  # [N, d]
    s = xc.T @ xc / n  # [d, d]
    mu = float(torch.diagonal(s).sum() / d)
    eye = torch.eye(d, dtype=e.dtype, device=e.device)
    if mu <= 0.0:
        return eye, mean, 1.0
    delta = ledoit_wolf_shrinkage(xc) if shrinkage == "ledoit_wolf" else float(shrinkage)
    return (1.0 - delta) * s + delta * mu * eye, mean, delta


def guarded_cholesky(cov: torch.Tensor, jitter: float, name: str, source: str) -> torch.Tensor:
    """Lower Cholesky factor of ``sym(cov) + jitter * mean(diag) * I`` (float64).

    If that fails, the jitter is raised tenfold up to 1e-4 relative; past that the matrix is not a
    covariance and an actionable error names ``source``.
    """
    if cov.dim() != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} kernel: {source} must be a square [d, d] matrix, got {tuple(cov.shape)}")
    c = cov.detach().to(torch.float64)
    if not bool(torch.isfinite(c).all()):
        raise ValueError(f"{name} kernel: {source} contains NaN/inf")
    c = 0.5 * (c + c.T)  # [d, d] symmetrised
    d = c.shape[0]
    scale = float(torch.diagonal(c).mean())
    if not scale > 0.0:
        raise ValueError(f"{name} kernel: {source} has a non-positive mean diagonal ({scale:.3g}); it is not a "
                         f"covariance matrix")
    eye = torch.eye(d, dtype=c.dtype, device=c.device)
    rel = jitter
    while True:
        chol, info = torch.linalg.cholesky_ex(c + rel * scale * eye)
        if int(info) == 0:
            return chol
        if rel >= 1e-4:
            eig = float(torch.linalg.eigvalsh(c)[0])
            raise ValueError(f"{name} kernel: {source} is not positive definite (smallest eigenvalue "
                             f"{eig:.3g}, mean diagonal {scale:.3g}) even with a {rel:.0e} relative jitter; "
                             f"project it onto the PSD cone and add shrinkage before set_covariance()")
        rel = max(rel * 10.0, 1e-12)
