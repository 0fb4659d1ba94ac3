"""``privacy:`` section: differentially private release of kernel statistics."""

from __future__ import annotations

from pydantic import Field

from .base import Section


class PrivacyConfig(Section):
    wrapper: str = Field(..., description="Registered privacy wrapper, e.g. `dp_covariance`.")
    epsilon: float = Field(..., gt=0.0)
    delta: float = Field(..., gt=0.0, lt=1.0)
    clip: float = Field(1.0, gt=0.0, description="Per-example L2 clipping bound of embeddings.")
    max_epsilon: float | None = Field(None, gt=0.0, description="Total budget; the run stops past it.")
    dp_sgd: bool = False
    params: dict = Field(default_factory=dict)
