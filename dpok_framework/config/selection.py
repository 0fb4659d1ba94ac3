"""``selection:`` section: data-driven kernel/divergence choice (used when a name is `auto`).

``kernel.name: auto`` and/or ``divergence.link.name`` / ``divergence.penalty.name: auto`` make the
engine score every installed candidate on ``sample_size`` training pairs before training and record the
choice and its evidence under ``<output.dir>/selection/``.  ``dpok select`` uses the same settings.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from .base import Section


class SelectionConfig(Section):
    sample_size: int = Field(512, gt=1, description="Training pairs scored by the selector (a seeded sample).")
    mode: Literal["approx", "exact"] = Field(
        "approx", description="`approx`: every metric O(N d) (population-level terms by linear-time "
                              "estimators); `exact`: quadratic U-statistics, for small samples.")
    kernels: list[str] | None = Field(None, description="Candidate kernels (default: every registered one).")
    divergences: list[str] | None = Field(None, description="Candidate divergences (default: all registered).")
    metrics: list[str] | None = Field(None, description="Selection metrics to use (default: every registered one).")
    weights: dict[str, float] = Field(default_factory=dict, description="Per-metric weight in the score "
                                                                        "(default 1 each).")
    metric_params: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                                     description="Per-metric params, e.g. {tat: {margin: 0.1}}.")
    fit_pairs: int = Field(256, gt=1, description="Pairs whose embeddings fit data-dependent kernel "
                                                   "parameters (median bandwidth, covariance) during selection "
                                                   "(as kernel.fit_samples does for training).")
    positions_per_pair: int = Field(8, gt=0, description="Completion positions per pair at which the reference's "
                                                          "next-token distributions are compared (divergences).")
    max_positions: int = Field(512, gt=3, description="Cap on the number of distribution pairs (divergences).")
    batch_size: int = Field(8, gt=0, description="Pairs per forward pass while collecting evidence.")
    seed: int = Field(0, ge=0)

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in v.items() if not w >= 0.0}
        if bad:
            raise ValueError(f"weights must be >= 0, got {bad}")
        return v
