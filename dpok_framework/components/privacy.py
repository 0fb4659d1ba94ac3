"""Base class for privacy wrappers: differentially private release of data statistics.

How the ``privacy:`` config section reaches a wrapper (the contract the engine follows)
-------------------------------------------------------------------------------------
The four numbers every wrapper needs -- ``epsilon``, ``delta``, ``clip``, ``max_epsilon`` -- are fields of
:class:`PrivacyParams`, the base of every wrapper's ``Params``.  In a run config they are written at the top
of the section and :meth:`dpok_framework.config.PrivacyConfig.wrapper_spec` folds them into the wrapper's
params; wrapper-specific fields (e.g. ``releases``) go under ``privacy.params``.  The engine does, once the
number of training records N is known::

    from dpok_framework.config.privacy import build_privacy_wrapper
    wrapper = build_privacy_wrapper(config.privacy, num_records=N)   # checks delta < 1/N etc., then builds
    rel = wrapper.release_covariance(torch.stack([e_x, e_pos, e_neg], dim=1))  # [N, 3, d]: one record = one pair
    kernel.set_covariance(rel.cov, rel.mean)
    json.dump(wrapper.to_json(), open(run_dir / "privacy.json", "w"))  # after every release

``release_covariance`` raises :class:`PrivacyBudgetExceeded` *before* a release that would take the
spent epsilon past the budget (``max_epsilon``, or ``epsilon`` when unset): nothing is released and
nothing is charged, so the run can stop cleanly and ``privacy.json`` stays truthful.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field, model_validator

from ..errors import DpokError
from .base import Component, Params


class PrivacyBudgetExceeded(DpokError):
    """A release would spend more privacy than the configured budget; nothing was released or charged."""


class PrivacyParams(Params):
    """Fields every privacy wrapper takes (the top-level numbers of the ``privacy:`` config section)."""

    model_config = Params.model_config | {"allow_inf_nan": False}

    epsilon: float = Field(1.0, gt=0.0, description="Target epsilon the planned releases are calibrated to.")
    delta: float = Field(1e-5, gt=0.0, lt=1.0, description="Target delta (must be < 1/N; checked once N is known).")
    clip: float = Field(1.0, gt=0.0, description="Per-example L2 clipping bound C of the embeddings.")
    max_epsilon: float | None = Field(None, gt=0.0, description="Hard budget; a release past it is refused. "
                                                                 "Default: epsilon.")

    @model_validator(mode="after")
    def _budget_covers_target(self) -> "PrivacyParams":
        if self.max_epsilon is not None and self.max_epsilon < self.epsilon:
            raise ValueError(f"max_epsilon ({self.max_epsilon}) must be >= epsilon ({self.epsilon}): the planned "
                             "releases are calibrated to spend epsilon, so a smaller budget would refuse them")
        return self

    @property
    def budget(self) -> float:
        """The epsilon past which releases are refused."""
        return self.epsilon if self.max_epsilon is None else self.max_epsilon


@dataclass(frozen=True)
class CovarianceRelease:
    """One differentially private release of embedding statistics (all fields are safe to publish).

    ``mean`` ``[d]`` (None when the wrapper does not centre), ``cov`` ``[d, d]`` symmetric positive definite,
    ``epsilon_spent`` the cumulative epsilon of the wrapper's accountant after this release (at ``delta``),
    ``index`` the 1-based number of this release, ``noisy_count`` the released (noisy) number of embedding rows,
    ``statistic`` the raw noisy sufficient statistic before post-processing (for audits and tests).
    """

    mean: Any
    cov: Any
    epsilon_spent: float
    delta: float
    index: int = 1
    noisy_count: float = math.nan
    statistic: Any = None


class PrivacyWrapper(Component):
    """Releases statistics of training embeddings under a differential-privacy guarantee.

    ``release_covariance(embeddings)`` takes ``[N, d]`` (one row per record) or ``[N, k, d]`` (k rows per record,
    e.g. a preference pair's prompt/chosen/rejected embeddings: the privacy unit is the record, so its k rows
    must be grouped, never passed as k independent rows) and returns a :class:`CovarianceRelease` whose ``cov`` is symmetric
    positive definite, and charges the release to the wrapper's single accountant.  ``spent()`` is the
    ``(epsilon, delta)`` spent so far by every release of this instance; ``to_json()`` is written to the run
    directory as ``privacy.json``; ``state_dict()``/``load_state_dict()`` carry the accountant across a resume
    (a resumed run must not start from a fresh budget).
    """

    kind: ClassVar[str] = "privacy_wrapper"
    Params: ClassVar[type[Params]] = PrivacyParams

    def __init__(self, params: Params | None = None, **kwargs) -> None:
        self._init_params(params, kwargs)

    def release_covariance(self, embeddings: Any) -> CovarianceRelease:
        """DP mean/covariance of ``[N, d]`` or ``[N, k, d]`` embeddings; raises :class:`PrivacyBudgetExceeded` before overspending."""
        raise NotImplementedError

    def spent(self) -> tuple[float, float]:
        """(epsilon, delta) spent so far."""
        raise NotImplementedError

    # -- the mechanism, exposed so the contract can test the noise calibration (optional) -------------
    def statistic(self, embeddings: Any) -> Any:
        """The exact (noise-free, NOT private) statistic a release adds noise to (``CovarianceRelease.statistic``
        is its noisy version)."""
        raise NotImplementedError

    def sensitivity(self, rows_per_record: int = 1) -> float:
        """L2 add/remove-one sensitivity of :meth:`statistic` when one record owns ``rows_per_record`` rows."""
        raise NotImplementedError

    def noise_std(self, rows_per_record: int = 1) -> float:
        """Standard deviation of the Gaussian noise on each diagonal entry of the released statistic."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """JSON-able account of the mechanism, every release and the spent budget (``privacy.json``)."""
        eps, delta = self.spent()
        return {"wrapper": self.name, "params": self.params.model_dump(mode="json"),
                "spent": {"epsilon": eps, "delta": delta}}

    def state_dict(self) -> dict[str, Any]:
        """Accountant state to checkpoint with the run."""
        return self.to_json()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the accountant from :meth:`state_dict` (or a ``privacy.json``) when a run resumes."""
        raise NotImplementedError(f"privacy wrapper {self.name!r} cannot resume its accountant")
