"""``data:`` section: where the preference pairs come from and how they are tokenised."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Section

PairColumn = Literal["prompt", "chosen", "rejected"]


class DataConfig(Section):
    train: str | None = Field(None, description="JSON/JSONL(.gz)/Parquet file or `save_to_disk` directory of "
                                                  "preference pairs; None: the `train_dataset` passed to the "
                                                  "Engine, else the bundled HH-RLHF harmless-base subset.")
    eval: str | None = Field(None, description="Held-out pairs (file or directory); None: the `eval_dataset` "
                                                 "passed to the Engine, else split `eval_fraction` off `train`.")
    format: Literal["auto", "standard", "conversational", "implicit", "llamafactory"] = "auto"
    columns: dict[PairColumn, str] = Field(default_factory=dict, description=(
        "Source column for prompt/chosen/rejected, e.g. {prompt: question, chosen: good}; unmapped names "
        "are read as they are."))
    train_split: str | None = Field(None, description="Split taken from a DatasetDict (or a `save_to_disk` "
                                                      "directory holding one) as train; None: its only split.")
    eval_split: str | None = Field(None, description="Split taken from a DatasetDict as eval; None: its "
                                                     "only split.")
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

    @model_validator(mode="after")
    def _columns(self) -> "DataConfig":
        for target, source in self.columns.items():
            if not source.strip():
                raise ValueError(f"columns.{target}: the source column name is empty")
        sources = list(self.columns.values())
        repeated = sorted({s for s in sources if sources.count(s) > 1})
        if repeated:
            raise ValueError(f"columns: {', '.join(map(repr, repeated))} is mapped onto more than one of "
                             "prompt/chosen/rejected")
        return self
