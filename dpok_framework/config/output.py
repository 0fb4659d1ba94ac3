"""``output:`` section: where the run directory goes."""

from __future__ import annotations

from pydantic import Field, field_validator

from .base import Section


class OutputConfig(Section):
    dir: str = Field("runs/default", description="Run directory (model, tokenizer, config, metrics, checkpoints).")
    overwrite: bool = Field(False, description="Allow writing into a non-empty run directory without --resume.")
    save_model: bool = True

    @field_validator("dir")
    @classmethod
    def _names_a_directory(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name a run directory (an empty path would be the working directory), "
                             "e.g. runs/my-run")
        return v
