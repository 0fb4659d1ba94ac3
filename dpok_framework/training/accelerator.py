"""The run's Accelerator: precision, trackers, seeded data order; a fresh Accelerate state per Engine."""

from __future__ import annotations

from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState, PartialState
from accelerate.utils import DataLoaderConfiguration, set_seed

from ..errors import ConfigError


def reset_accelerate_state() -> None:
    """Accelerate keeps one global state per process; a new Engine in the same process starts clean
    (otherwise a second Engine with another ``mixed_precision`` fails inside Accelerate)."""
    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    PartialState._reset_state()


def make_accelerator(training, run_dir: Path):
    """An ``Accelerator`` for the ``training:`` section (seeded); resets Accelerate's process-global state."""
    mp = training.mixed_precision
    if mp == "fp16" and not torch.cuda.is_available():
        raise ConfigError("training.mixed_precision: fp16 needs a CUDA GPU; use bf16 or no on this machine")
    reset_accelerate_state()
    # without a GPU, tell Accelerate explicitly: only then does torchrun give MULTI_CPU (gloo) processes
    no_gpu = not torch.cuda.is_available() and not (hasattr(torch, "xpu") and torch.xpu.is_available())
    accelerator = Accelerator(
        cpu=no_gpu and not torch.backends.mps.is_available(),
        gradient_accumulation_steps=training.gradient_accumulation_steps, mixed_precision=mp,
        log_with=training.report_to or None, project_dir=str(run_dir),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=training.seed),
    )
    set_seed(training.seed)
    return accelerator


def any_process(accelerator, flag: bool) -> bool:
    """The same decision on every process (each may read its own clock or hooks)."""
    if accelerator.num_processes == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(t, reduction="sum").item() > 0)
