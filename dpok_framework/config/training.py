"""``training:`` section: optimisation and engine behaviour."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section


class TrainingConfig(Section):
    lr: float = Field(5e-6, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    batch_size: int = Field(4, gt=0, description="Pairs per device per micro-batch.")
    eval_batch_size: int | None = Field(None, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    max_steps: int | None = Field(None, gt=0, description="Optimiser steps; overrides num_epochs.")
    num_epochs: float = Field(1.0, gt=0.0)
    max_time_s: float | None = Field(None, gt=0.0, description="Stop (and save) after this many seconds.")
    warmup_steps: int = Field(0, ge=0)
    lr_scheduler: Literal["constant", "linear", "cosine"] = "linear"
    max_grad_norm: float | None = Field(1.0, gt=0.0)
    seed: int = 0
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    gradient_checkpointing: bool = False
    precompute_ref_log_probs: bool = False
    sync_ref_model: bool = Field(False, description="TR-DPO: every ref_model_sync_steps steps, "
                                 "ref <- alpha * policy + (1 - alpha) * ref (TRL's sync_ref_model).")
    ref_model_mixup_alpha: float = Field(0.6, ge=0.0, le=1.0, description="TR-DPO alpha (TRL's default 0.6).")
    ref_model_sync_steps: int = Field(512, gt=0, description="TR-DPO tau: optimiser steps between syncs.")
    logging_steps: int = Field(10, gt=0)
    eval_steps: int | None = Field(None, gt=0)
    save_steps: int | None = Field(None, gt=0)
    save_total_limit: int | None = Field(2, gt=0)
    max_consecutive_nonfinite: int = Field(5, gt=0)
    report_to: list[str] = Field(default_factory=list, description="Accelerate trackers, e.g. [tensorboard].")
