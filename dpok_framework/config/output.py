"""``output:`` section: where the run directory goes."""

from __future__ import annotations

from pydantic import Field

from .base import Section


class OutputConfig(Section):
    dir: str = Field("runs/default", description="Run directory (model, tokenizer, config, metrics, checkpoints).")
    overwrite: bool = Field(False, description="Allow writing into a non-empty run directory without --resume.")
    save_model: bool = True
