"""``data:`` section: where the preference pairs come from and how they are tokenised."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..errors import ConfigError
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
    seed: int = Field(0, ge=0)

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


#: Attributes under which Hugging Face model configs store the longest sequence their position
#: embeddings cover (Llama/Qwen/Mistral/SmolLM: max_position_embeddings; GPT-2: n_positions).
POSITION_LIMIT_ATTRS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


def position_limit(model_config: Any) -> int | None:
    """The model's position limit read from its ``config`` (None when it declares none)."""
    for attr in POSITION_LIMIT_ATTRS:
        value = getattr(model_config, attr, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def check_position_limit(data: DataConfig, model_config: Any, model_path: str = "") -> None:
    """ConfigError when ``data.max_length`` exceeds the model's position limit (checked at engine set-up,
    once the model is loaded: a longer batch would index past the position embeddings)."""
    limit = position_limit(model_config)
    if limit is not None and data.max_length > limit:
        name = f" {model_path!r}" if model_path else ""
        raise ConfigError(f"data.max_length ({data.max_length}) exceeds the model{name}'s position limit ({limit} "
                          f"tokens): set data.max_length <= {limit}")
