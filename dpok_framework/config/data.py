"""``data:`` section: where the preference pairs come from and how they are tokenised."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Section


class DataConfig(Section):
    train: str | None = Field(None, description="JSON/JSONL(.gz)/Parquet file of preference pairs; "
                                                  "None: the bundled HH-RLHF harmless-base subset.")
    eval: str | None = Field(None, description="Held-out pairs; None: split `eval_fraction` off `train`.")
    format: Literal["auto", "standard", "conversational", "implicit", "llamafactory"] = "auto"
    eval_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    max_samples: int | None = Field(None, gt=0)
    max_length: int = Field(512, gt=0)
    max_prompt_length: int | None = Field(256, gt=0)
    truncation_mode: Literal["keep_end", "keep_start"] = "keep_end"
    on_invalid: Literal["error", "skip"] = "error"
    seed: int = 0

    @model_validator(mode="after")
    def _lengths(self) -> "DataConfig":
        if self.max_prompt_length is not None and self.max_prompt_length >= self.max_length:
            raise ValueError(f"max_prompt_length ({self.max_prompt_length}) must be smaller than max_length "
                             f"({self.max_length}) to leave room for the completion")
        return self
