"""``dp_covariance``: the Mahalanobis kernel's mean and covariance released with the Gaussian mechanism.

Mechanism (details and the sensitivity proof in :mod:`dpok_privacy.gaussian`), per release:

    e_i    <- e_i min(1, C / ||e_i||)                                   clip each embedding to norm C
    T^     =  sum_i e~_i e~_i^T + (G + G^T)/2,  G ~ N(0, (z Delta)^2)   e~ = (e, b), b = offset * C
    Delta  =  C^2 + b^2  (centred)   or   sqrt(C^4 + b^4)  (second moment only)

A record may own k rows (``embeddings [N, k, d]``, e.g. the prompt, chosen and rejected embeddings of one
preference pair): removing it removes k clipped rows, so Delta is multiplied by k (triangle inequality; tight
when the k rows coincide).  Passing a pair's three embeddings as three ``[N, d]`` rows would understate the
sensitivity threefold.

z is calibrated by Opacus' ``get_noise_multiplier`` so that ``releases`` such releases spend at most
(epsilon, delta) (add/remove-one neighbours), each charged as one ``sample_rate = 1`` step to one Opacus
accountant.  Post-processing (free):

    N^ = max(T^[d,d] / b^2, 1),   mu^ = Proj_{||.||<=C}(T^[:d,d] / (b N^)),   S^ = T^[:d,:d] / N^ - mu^ mu^T
    cov = (1 - lam) P(S^) + lam tr(P(S^))/d I,   P = eigenvalues clamped to [eig_floor C^2 / d, C^2]

so ``cov`` is symmetric positive definite with condition number <= d / eig_floor.
"""

from __future__ import annotations

import math
import secrets
from typing import Any, Literal

import torch
from pydantic import Field

from dpok_framework.components.privacy import (CovarianceRelease, PrivacyBudgetExceeded, PrivacyParams,
                                               PrivacyWrapper)
from dpok_framework.errors import DataError

from .accounting import ACCOUNTANTS, PrivacyLedger, calibrate_noise_multiplier
from .gaussian import augmented_statistic, clip_rows, sensitivity, symmetric_gaussian
from .psd import project_psd, shrink, symmetrize


class DPCovarianceParams(PrivacyParams):
    releases: int = Field(1, ge=1, description="Planned number of releases (initial fit plus re-estimations) the "
                                               "target (epsilon, delta) is calibrated to cover.")
    accountant: Literal["rdp", "prv"] = Field("rdp", description="Opacus accountant: `rdp` (Renyi DP) or `prv` "
                                                                 "(numerical PRV composition, tighter).")
    center: bool = Field(True, description="Release the mean and the centred covariance; false releases the "
                                           "uncentred second moment E[e e^T] and no mean (less noise).")
    offset: float = Field(1.0, gt=0.0, description="Augmentation coordinate b = offset * clip; trades noise on the "
                                                   "count/sum (larger b: less) against the second moment.")
    shrinkage: float = Field(0.05, ge=0.0, le=1.0, description="lam of the shrinkage towards tr(S)/d * I.")
    eig_floor: float = Field(1e-3, gt=0.0, le=1.0, description="Minimum eigenvalue as a fraction of clip^2/d.")
    noise_multiplier: float | None = Field(None, gt=0.0, allow_inf_nan=False,
                                           description="Use this z instead of calibrating it from (epsilon, "
                                                       "releases); the accountant and the budget still apply.")
    calibration_tolerance: float = Field(0.01, gt=0.0, description="Absolute epsilon tolerance of Opacus' "
                                                                   "noise-multiplier bisection.")
    seed: int | None = Field(None, description="Seed of the noise generator, for tests only. Default: a private "
                                               "generator seeded from the OS, independent of the training seed.")


class DPCovariance(PrivacyWrapper):
    """(epsilon, delta)-DP mean and covariance of embeddings for the Mahalanobis kernel (Gaussian mechanism).

    ``cov`` is symmetric positive definite (eigenvalues in [eig_floor C^2/d, C^2]); every release, including
    re-estimations during training, is charged to one Opacus accountant; a release that would take the spent
    epsilon past ``max_epsilon`` (default ``epsilon``) raises :class:`PrivacyBudgetExceeded` before any noise is
    drawn and nothing is charged.
    """

    name = "dp_covariance"
    summary = "Gaussian-mechanism DP mean/covariance (clipped, PSD-projected, shrunk) with Opacus accounting"
    Params = DPCovarianceParams
    params: DPCovarianceParams

    def __init__(self, params: DPCovarianceParams | None = None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        p = self.params
        self.ledger = PrivacyLedger(p.delta, p.budget, p.accountant)
        self.row_sensitivity = sensitivity(p.clip, p.offset * p.clip, p.center)
        self._noise_multiplier: float | None = None
        seed = p.seed if p.seed is not None else secrets.randbits(63)
        self._generator = torch.Generator().manual_seed(seed)
        self.releases: list[dict[str, Any]] = []
        self.refused = 0

    # -- calibration ------------------------------------------------------------------------
    @property
    def noise_multiplier(self) -> float:
        """z = noise std / sensitivity, from Opacus' ``get_noise_multiplier`` for the planned releases."""
        if self._noise_multiplier is None:
            p = self.params
            if p.noise_multiplier is not None:
                self._noise_multiplier = float(p.noise_multiplier)
                return self._noise_multiplier
            self._noise_multiplier = calibrate_noise_multiplier(p.epsilon, p.delta, p.releases, p.accountant,
                                                                tolerance=p.calibration_tolerance)
        return self._noise_multiplier

    def sensitivity(self, rows_per_record: int = 1) -> float:
        """L2 add/remove-one sensitivity of vec(T) when each record owns ``rows_per_record`` rows."""
        return rows_per_record * self.row_sensitivity

    def noise_std(self, rows_per_record: int = 1) -> float:
        """Standard deviation of the Gaussian noise on each entry of vec(T) (before symmetrisation)."""
        return self.noise_multiplier * self.sensitivity(rows_per_record)

    # -- the mechanism ----------------------------------------------------------------------
    def statistic(self, embeddings: Any) -> torch.Tensor:
        """The exact (noise-free, hence NOT private) sufficient statistic ``T(D)`` ``[d+1, d+1]`` of clipped rows."""
        x, _ = self._check(embeddings)
        return augmented_statistic(clip_rows(x.to(torch.float64), self.params.clip),
                                   self.params.offset * self.params.clip, self.params.center)

    def release_covariance(self, embeddings: Any) -> CovarianceRelease:
        x, k = self._check(embeddings)                                # [N*k, d], k rows per record
        d = x.shape[1]
        z = self.noise_multiplier
        after = self.ledger.would_spend(z)
        if self.ledger.exceeds(after):
            self.refused += 1
            p = self.params
            more_noise = (f"raise privacy.params.noise_multiplier (currently {z:g})" if p.noise_multiplier is not None
                          else f"set privacy.params.releases to the number of releases you need (currently "
                               f"{p.releases}) so each one is calibrated with more noise")
            raise PrivacyBudgetExceeded(
                f"privacy budget exhausted: covariance release #{len(self.releases) + 1} would raise epsilon from "
                f"{self.ledger.epsilon():.4g} to {after:.4g} (delta={p.delta:g}), past the budget "
                f"{'privacy.max_epsilon' if p.max_epsilon is not None else 'privacy.epsilon'}={p.budget:g}. Nothing "
                f"was released or charged. Raise privacy.max_epsilon, re-estimate the covariance less often, or "
                f"{more_noise}")
        t = self.statistic(x)                                         # [d+1, d+1] float64
        t_noisy = t + symmetric_gaussian(d + 1, self.noise_std(k), self._generator, t.device)
        del t
        self.ledger.charge(z)
        mean, cov, n_hat = self._postprocess(t_noisy, d)
        spent = self.ledger.epsilon()
        index = len(self.releases) + 1
        self.releases.append({"index": index, "dim": d, "rows_per_record": k, "sensitivity": self.sensitivity(k),
                              "noise_std": self.noise_std(k), "noisy_rows": n_hat, "epsilon_spent": spent})
        dtype = x.dtype if x.is_floating_point() else torch.float32
        return CovarianceRelease(mean=None if mean is None else mean.to(dtype), cov=cov.to(dtype),
                                 epsilon_spent=spent, delta=self.params.delta, index=index, noisy_count=n_hat,
                                 statistic=t_noisy)

    def _postprocess(self, t: torch.Tensor, d: int) -> tuple[torch.Tensor | None, torch.Tensor, float]:
        """Noisy ``T^`` -> (mean ``[d]`` | None, SPD cov ``[d, d]``, noisy count); uses only public constants."""
        p = self.params
        b = p.offset * p.clip
        n_hat = max(float(t[d, d]) / b ** 2, 1.0)
        second = symmetrize(t[:d, :d]) / n_hat                        # [d, d]  E^[e e^T]
        mean = None
        if p.center:
            mean = (t[:d, d] + t[d, :d]) / (2 * b * n_hat)            # [d]
            norm = float(torch.linalg.vector_norm(mean))
            if norm > p.clip:                                          # the true mean lies in the C-ball
                mean = mean * (p.clip / norm)
            second = second - torch.outer(mean, mean)                 # [d, d]
        floor = p.eig_floor * p.clip ** 2 / d
        cov = shrink(project_psd(second, floor, p.clip ** 2), p.shrinkage)
        return mean, symmetrize(cov), n_hat

    @staticmethod
    def _check(embeddings: Any) -> tuple[torch.Tensor, int]:
        """``[N, d]`` or ``[N, k, d]`` -> (rows ``[N*k, d]``, k)."""
        x = torch.as_tensor(embeddings).detach()
        if x.ndim not in (2, 3) or 0 in x.shape:
            raise DataError(f"dp_covariance: embeddings must be a non-empty [N, d] matrix (one row per record) or "
                            f"[N, k, d] (k rows per record, e.g. prompt/chosen/rejected of a pair), got shape "
                            f"{tuple(x.shape)}")
        k = 1 if x.ndim == 2 else x.shape[1]
        x = x.reshape(-1, x.shape[-1])                                # [N*k, d]
        if x.is_complex():
            raise DataError("dp_covariance: embeddings must be real")
        if x.is_floating_point():
            bad = (~torch.isfinite(x)).any(dim=1).nonzero().flatten()
            if bad.numel():
                raise DataError(f"dp_covariance: record {int(bad[0]) // k} has a NaN/inf embedding entry "
                                f"({bad.numel()} bad row(s)); fix the embedder before releasing statistics")
        return x, k

    # -- accounting -------------------------------------------------------------------------
    def spent(self) -> tuple[float, float]:
        return (self.ledger.epsilon(), self.params.delta) if self.ledger.history else (0.0, 0.0)

    def to_json(self) -> dict[str, Any]:
        p = self.params
        eps, delta = self.spent()
        return {
            "wrapper": self.name,
            "mechanism": "gaussian on the augmented second moment (clip -> sum e~e~^T -> + symmetric noise)",
            "neighbouring": "add/remove one record",
            "accountant": p.accountant,
            "target": {"epsilon": p.epsilon, "delta": p.delta, "releases": p.releases},
            "budget": {"max_epsilon": p.budget, "delta": p.delta},
            "clip": p.clip,
            "center": p.center,
            "offset": p.offset * p.clip,
            "row_sensitivity": self.row_sensitivity,
            "noise_multiplier": self.noise_multiplier,
            "postprocessing": {"shrinkage": p.shrinkage, "eig_floor": p.eig_floor},
            "releases": list(self.releases),
            "refused": self.refused,
            "spent": {"epsilon": eps, "delta": delta},
            "opacus_history": [list(h) for h in self.ledger.history],
            "params": p.model_dump(mode="json"),
        }

    def state_dict(self) -> dict[str, Any]:
        return self.to_json()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict` / ``privacy.json``: the accountant history and the release log."""
        mine = self.params.model_dump(mode="json")
        theirs = state.get("params", {})
        keys = ("epsilon", "delta", "clip", "center", "offset", "accountant", "releases")
        diff = [k for k in keys if k in theirs and theirs[k] != mine[k]]
        if state.get("wrapper") != self.name or "opacus_history" not in state:
            raise ValueError(f"dp_covariance: cannot resume from a state of wrapper {state.get('wrapper')!r} "
                             "without `opacus_history`")
        if diff:
            raise ValueError(f"dp_covariance: cannot resume with changed privacy settings {', '.join(diff)} "
                             "(the spent budget was computed under the old ones); restore them")
        self.ledger.load_history(state["opacus_history"])
        self.releases = [dict(r) for r in state.get("releases", [])]
        self.refused = int(state.get("refused", 0))
        z = state.get("noise_multiplier")
        if isinstance(z, (int, float)) and math.isfinite(z) and z > 0:
            self._noise_multiplier = float(z)


__all__ = ["ACCOUNTANTS", "DPCovariance", "DPCovarianceParams"]
