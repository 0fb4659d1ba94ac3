"""Post-processing of a noisy covariance into a well-conditioned SPD matrix (costs no privacy).

    S_psd = V clamp(L, floor, ceil) V^T            where S_sym = (S + S^T)/2 = V L V^T
    S_out = (1 - lam) S_psd + lam (tr(S_psd) / d) I

Every eigenvalue of S_out lies in [floor, ceil], so S_out is invertible with condition number <= ceil/floor.
"""

from __future__ import annotations

import torch


def symmetrize(s: torch.Tensor) -> torch.Tensor:
    """``(S + S^T) / 2``: exactly symmetric in floating point.  ``[d, d] -> [d, d]``."""
    return (s + s.T) / 2


def project_psd(s: torch.Tensor, floor: float, ceil: float | None = None) -> torch.Tensor:
    """Eigenvalues of the symmetric part clamped to ``[floor, ceil]``: the Frobenius-nearest matrix with that
    spectrum constraint (for ``ceil = None``, the nearest PSD matrix with minimum eigenvalue ``floor``)."""
    if floor <= 0:
        raise ValueError(f"project_psd: floor must be > 0 so the result is invertible, got {floor}")
    evals, evecs = torch.linalg.eigh(symmetrize(s))  # [d], [d, d]
    evals = evals.clamp(min=floor, max=ceil)
    return symmetrize((evecs * evals) @ evecs.T)     # V diag(L) V^T  [d, d]


def shrink(s: torch.Tensor, lam: float) -> torch.Tensor:
    """Linear shrinkage towards the scaled identity: ``(1 - lam) S + lam (tr S / d) I``."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"shrink: lam must be in [0, 1], got {lam}")
    d = s.shape[-1]
    target = torch.diagonal(s).sum() / d
    return (1.0 - lam) * s + lam * target * torch.eye(d, dtype=s.dtype, device=s.device)
