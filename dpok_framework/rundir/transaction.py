"""One run's hold on its directory: lock, claim (fresh / overwrite / resume), the stored-config comparison
and ``config.yaml``; the engine opens it before it builds anything and closes it when the run ends.

Every process calls :meth:`RunDirectory.open`; the main process does the work and the outcome (the
checkpoint to resume from, or the error) is shared, so a refusal stops every process with the same
message instead of leaving the others waiting at a barrier.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable

import yaml

from ..errors import ConfigError, DpokError
from .files import atomic_write_text
from .layout import claim_run_dir
from .lock import RunLock, RunLockedError
from .resume import check_resume_config

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
#: Runs that ended like this are finished: ``--resume`` reports it and changes nothing (unless a stop
#: condition changed: a larger ``training.max_steps`` continues the run).
FINISHED = ("completed", "max_steps")
STOP_FIELDS = ("training.max_steps", "training.num_epochs")


def stored_config(checkpoint: Path, run_dir: Path) -> tuple[dict | None, Path]:
    """The configuration ``checkpoint`` was trained with: its own ``config.yaml`` (written with every
    checkpoint), else the run's (checkpoints written before configs were stored in them)."""
    for path in (Path(checkpoint) / CONFIG_FILE, Path(run_dir) / CONFIG_FILE):
        if path.is_file():
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            return (data if isinstance(data, dict) else None), path
    return None, Path(run_dir) / CONFIG_FILE


class RunDirectory:
    def __init__(self, run_dir: Path | str, config: Any, resume: bool) -> None:
        self.run_dir = Path(run_dir)
        self.config = config
        self.resume = resume
        self.lock = RunLock(self.run_dir)
        self.checkpoint: Path | None = None
        self.finished_summary: dict | None = None  # set when --resume finds a finished run
        self.allowed_changes: dict[str, tuple[Any, Any]] = {}  # config fields a resume changed (allowed ones)

    # -- opening ------------------------------------------------------------------------------------------
    def open(self, accelerator, latest_checkpoint: Callable[[Path], Path | None]) -> Path | None:
        """Lock and claim the directory; the checkpoint to resume from (None: start from step 0)."""
        # [checkpoint path str | None, (error class name, message) | None, finished run's summary | None]
        outcome: list[Any] = [None, None, None]
        if accelerator.is_main_process:
            try:
                self.lock.acquire()
                ckpt = self._claim(latest_checkpoint)
                outcome[0] = None if ckpt is None else str(ckpt)
                outcome[2] = self.finished_summary
            except DpokError as exc:
                self.lock.release()
                outcome[1] = (type(exc).__name__, str(exc))
            except BaseException:
                self.lock.release()
                raise
        if accelerator.num_processes > 1:
            from accelerate.utils import broadcast_object_list

            broadcast_object_list(outcome, from_process=0)
        if outcome[1] is not None:
            kind, msg = outcome[1]
            raise (RunLockedError if kind == RunLockedError.__name__ else ConfigError)(msg)
        self.checkpoint = None if outcome[0] is None else Path(outcome[0])
        self.finished_summary = outcome[2]  # every process returns early on a finished run
        accelerator.wait_for_everyone()
        return self.checkpoint

    def _claim(self, latest_checkpoint: Callable[[Path], Path | None]) -> Path | None:
        ckpt = latest_checkpoint(self.run_dir) if self.resume else None
        if self.resume and ckpt is None and self._finished_without_checkpoint():
            return None
        if not claim_run_dir(self.run_dir, resume=self.resume, overwrite=self.config.output.overwrite,
                             checkpoint=ckpt):
            self.write_config()
            return None
        stored, where = stored_config(ckpt, self.run_dir)
        if stored is None:
            raise ConfigError(f"--resume: {where} is missing or unreadable, so the configuration {ckpt} was "
                              "trained with is unknown; start a new run instead")
        changes = check_resume_config(stored, self.config, str(ckpt))
        if self._finished(ckpt, changes):
            return ckpt
        self.allowed_changes = changes
        self.write_config()
        return ckpt

    def _finished(self, ckpt: Path, changes: dict) -> bool:
        if any(f in changes for f in STOP_FIELDS):
            return False
        try:
            state = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return self._finished_at(state.get("global_step"))

    def _finished_without_checkpoint(self) -> bool:
        """A finished run that saved no checkpoint (training.save_steps unset): finished if the configuration
        it stored differs only in fields that do not touch the stop condition."""
        stored, _ = stored_config(self.run_dir, self.run_dir)
        if stored is None:
            return False
        try:
            changes = check_resume_config(stored, self.config, "the finished run")
        except ConfigError:
            return False  # the usual refusals follow (no checkpoint to resume from)
        return not any(f in changes for f in STOP_FIELDS) and self._finished_at(None)

    def _finished_at(self, step: int | None) -> bool:
        """Whether summary.json says the run finished (at ``step``, when given); then nothing is done."""
        try:
            summary = json.loads((self.run_dir / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if summary.get("stopped_by") in FINISHED and (step is None or summary.get("global_step") == step):
            self.finished_summary = summary
            logger.warning("--resume: the run in %s already finished at step %s (stopped by %s); nothing to do, "
                           "nothing changed. Raise training.max_steps to train further.", self.run_dir,
                           summary.get("global_step"), summary.get("stopped_by"))
            return True
        return False

    def log_changes(self) -> None:
        """Log the allowed changes of a resume (called once ``train.log`` is open, so they are recorded)."""
        for field, (old, new) in self.allowed_changes.items():
            logger.info("resume: %s changed from %r to %r (allowed on resume)", field, old, new)

    def write_config(self, directory: Path | None = None) -> None:
        """``config.yaml`` (the configuration as given, before any ``auto`` choice) into the run directory, or
        into ``directory`` (a checkpoint being written: what a later ``--resume`` compares against)."""
        from ..config import dump_config

        atomic_write_text(Path(directory or self.run_dir) / CONFIG_FILE, dump_config(self.config))

    # -- closing ------------------------------------------------------------------------------------------
    def close(self) -> None:
        self.lock.release()
