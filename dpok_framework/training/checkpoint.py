"""Atomic checkpoints: ``checkpoints/step-XXXXXXXX/`` appears only once complete (temp dir + rename).

A checkpoint holds Accelerate's state (policy + kernel weights, optimizer, scheduler, every process's
RNG states), ``trainer_state.json`` (step, epoch, position in the epoch, skip counters) and whatever the
``writers`` passed to :func:`save_checkpoint` put there (the synced reference, lifecycle-hook files).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

STATE_FILE = "trainer_state.json"
_STEP_DIR = re.compile(r"^step-(\d{8})$")


@dataclass
class TrainerState:
    global_step: int = 0  # optimiser steps taken (skipped non-finite steps included)
    epoch: int = 0  # current epoch index
    batches_in_epoch: int = 0  # micro-batches of `epoch` already consumed
    consecutive_nonfinite: int = 0
    skipped_steps: int = 0
    elapsed_s: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def read(cls, path: Path) -> "TrainerState":
        return cls(**json.loads(Path(path).read_text()))


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step-{step:08d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _STEP_DIR.match(p.name) and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(_STEP_DIR.match(p.name).group(1)))


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def save_checkpoint(accelerator, run_dir: Path, state: TrainerState, total_limit: int | None = None,
                    writers: Iterable[Callable[[Path], None]] = ()) -> Path:
    """Every process calls this (Accelerate saves per-process RNG state); the main one renames.

    ``writers``: called on every process with the temporary directory before the rename, so what they
    write is part of the checkpoint (or of no checkpoint at all)."""
    final = checkpoint_dir(run_dir, state.global_step)
    tmp = final.parent / f".tmp-{final.name}"
    if accelerator.is_main_process:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp), safe_serialization=True)
    for write in writers:
        write(tmp)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / STATE_FILE).write_text(state.to_json())
        if final.exists():  # re-saving a step (e.g. final save right after a periodic one)
            shutil.rmtree(final)
        os.replace(tmp, final)
        if total_limit is not None:
            for old in list_checkpoints(run_dir)[:-total_limit]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator, ckpt: Path, readers: Iterable[Callable[[Path], None]] = ()) -> TrainerState:
    """Restore Accelerate's state and every ``reader``'s part of ``ckpt``; the trainer state to continue from."""
    accelerator.load_state(str(ckpt))
    for read in readers:
        read(Path(ckpt))
    return TrainerState.read(Path(ckpt) / STATE_FILE)
