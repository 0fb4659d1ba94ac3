"""Preparing the run directory: resume or fresh start, ``output.overwrite``, ``config.yaml``, ``train.log``."""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path

from ..config import dump_config
from ..errors import ConfigError
from .checkpoint import latest_checkpoint

RUN_OUTPUTS = ("checkpoints", "model", "metrics.jsonl", "summary.json", "kernel.pt", "privacy.json")


def prepare_run_dir(accelerator, run_dir: Path, config, resume: bool) -> Path | None:
    """The checkpoint to resume from (None: a fresh run); a fresh run gets an empty, configured directory."""
    out = config.output
    ckpt = None
    if resume:
        ckpt = latest_checkpoint(run_dir)
        if ckpt is None:
            raise ConfigError(f"--resume: no complete checkpoint under {run_dir / 'checkpoints'}; "
                              "start without --resume (set training.save_steps to write checkpoints)")
    elif run_dir.exists() and any(run_dir.iterdir()) and not out.overwrite:
        raise ConfigError(f"output.dir {str(run_dir)!r} is not empty: pass --resume to continue it, "
                          "set output.overwrite: true to write over it, or choose another output.dir")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if not resume and out.overwrite and run_dir.exists():
            for name in RUN_OUTPUTS:
                p = run_dir / name
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(dump_config(config))
    accelerator.wait_for_everyone()
    return ckpt


@contextlib.contextmanager
def train_log(run_dir: Path, enabled: bool):
    """Copy the ``dpok_framework`` log records into ``run_dir/train.log`` (main process) while open."""
    handler = None
    if enabled:
        handler = logging.FileHandler(run_dir / "train.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("dpok_framework").addHandler(handler)
    try:
        yield
    finally:
        if handler is not None:
            logging.getLogger("dpok_framework").removeHandler(handler)
            handler.close()
