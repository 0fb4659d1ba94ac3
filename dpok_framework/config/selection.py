"""``selection:`` section: data-driven kernel/divergence choice (used when a name is `auto`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section


class SelectionConfig(Section):
    sample_size: int = Field(512, gt=1, description="Training pairs scored by the selector.")
    mode: Literal["approx", "exact"] = "approx"
    kernels: list[str] | None = Field(None, description="Candidate kernels (default: every registered one).")
    divergences: list[str] | None = Field(None, description="Candidate divergences (default: all registered).")
    seed: int = 0
