"""``privacy:`` section: differentially private release of kernel statistics.

    privacy:
      wrapper: dp_covariance
      epsilon: 1.0        # target the planned releases are calibrated to
      delta: 1.0e-6       # must be < 1/N (checked once the data is loaded)
      clip: 1.0           # per-example L2 bound of the embeddings
      max_epsilon: 2.0    # optional hard budget (default: epsilon); the run stops before exceeding it
      params: {releases: 4}   # wrapper-specific fields

The top-level numbers reach the wrapper through :meth:`PrivacyConfig.wrapper_spec`; the engine builds the
wrapper with :func:`build_privacy_wrapper` once it knows the number of records.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from ..errors import ConfigError
from .base import Section

#: Fields of the section that are passed to the wrapper's params (see ``PrivacyParams``).
SHARED_FIELDS = ("epsilon", "delta", "clip", "max_epsilon")


class PrivacyConfig(Section):
    wrapper: str = Field(..., description="Registered privacy wrapper, e.g. `dp_covariance`.")
    epsilon: float = Field(..., gt=0.0, allow_inf_nan=False,
                           description="Target epsilon the planned releases are calibrated to.")
    delta: float = Field(..., gt=0.0, lt=1.0, description="Target delta; must also be < 1/N.")
    clip: float = Field(1.0, gt=0.0, allow_inf_nan=False, description="Per-example L2 clipping bound of embeddings.")
    max_epsilon: float | None = Field(None, gt=0.0, allow_inf_nan=False,
                                      description="Total budget (default: epsilon); the run stops before exceeding it.")
    dp_sgd: bool = Field(False, description="DP-SGD for the kernel parameters (not available yet: must be false).")
    params: dict = Field(default_factory=dict, description="Wrapper-specific parameters.")

    @model_validator(mode="after")
    def _check(self) -> "PrivacyConfig":
        if self.max_epsilon is not None and self.max_epsilon < self.epsilon:
            raise ValueError(f"privacy.max_epsilon ({self.max_epsilon}) must be >= privacy.epsilon ({self.epsilon}): "
                             "the planned releases are calibrated to spend epsilon, so a smaller budget would "
                             "refuse them. Raise max_epsilon or lower epsilon")
        dup = sorted(set(SHARED_FIELDS) & set(self.params))
        if dup:
            raise ValueError(f"privacy.params sets {', '.join(dup)}: write {'them' if len(dup) > 1 else 'it'} at the "
                             f"top of the privacy section (privacy.{dup[0]}), not under privacy.params")
        if self.dp_sgd:
            raise ValueError("privacy.dp_sgd: DP-SGD of the kernel parameters is not available in this release; "
                             "set privacy.dp_sgd: false (the covariance release is protected by privacy.wrapper)")
        return self

    def wrapper_spec(self) -> dict[str, Any]:
        """``{"name": wrapper, "params": {...}}`` with the top-level numbers folded into the wrapper's params."""
        shared = {k: getattr(self, k) for k in SHARED_FIELDS if getattr(self, k) is not None}
        return {"name": self.wrapper, "params": {**self.params, **shared}}


def check_privacy_config(privacy: PrivacyConfig, num_records: int) -> None:
    """Checks that need the number of training records N; raises :class:`ConfigError`.

    delta is the probability with which the guarantee may fail outright; a mechanism that publishes one
    random record satisfies (0, 1/N)-DP, so delta >= 1/N protects nothing (we require delta < 1/N).
    """
    if not isinstance(num_records, int) or isinstance(num_records, bool) or num_records < 1:
        raise ConfigError(f"privacy: the number of training records must be a positive integer, got {num_records!r}")
    if privacy.delta >= 1.0 / num_records:
        raise ConfigError(f"privacy.delta ({privacy.delta:g}) must be < 1/N = {1.0 / num_records:.3g} for N = "
                          f"{num_records} records (a delta that large allows publishing a record outright); "
                          f"use e.g. privacy.delta: {_suggest_delta(num_records):g}")


def _suggest_delta(n: int) -> float:
    """A conventional delta well below 1/N: 10^-ceil(log10(N) + 1)."""
    exponent = len(str(n)) + 1
    return 10.0 ** (-exponent)


def build_privacy_wrapper(privacy: PrivacyConfig, num_records: int, registry: Any = None) -> Any:
    """Check ``privacy`` against N, then build its wrapper from the registry with the top-level numbers."""
    check_privacy_config(privacy, num_records)
    if registry is None:
        from ..registry import get_registry

        registry = get_registry()
    return registry.build("privacy_wrapper", privacy.wrapper_spec(), where="privacy")
