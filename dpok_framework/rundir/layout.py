"""What dpok owns in a run directory, and the rules for starting a fresh run, overwriting and resuming.

A directory is a *dpok run* when it holds the marker file ``.dpok-run`` (written when a run claims the
directory) or, for runs written before the marker existed, a ``config.yaml`` with dpok's sections.
``output.overwrite: true`` only ever touches a dpok run, and then removes exactly what dpok owns
(:data:`OWNED`: the previous run's model, checkpoints, metrics, summary, log, and what ``dpok eval`` /
``dpok report`` / selection wrote), so no output of the old run survives next to the new one. Symbolic
links are removed, never followed. Files dpok does not own are kept (and named in a warning). The
privacy ledger is never removed (see :mod:`.ledger`).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import yaml

from ..errors import ConfigError
from .lock import LOCK_FILE

logger = logging.getLogger(__name__)

MARKER = ".dpok-run"
LEDGER_FILE = "privacy_ledger.jsonl"
#: Entries of a run directory that belong to dpok and are removed by an overwrite.
OWNED = ("checkpoints", "model", "metrics.jsonl", "summary.json", "kernel.pt", "privacy.json", "config.yaml",
         "plugins.json", "train.log", "eval", "report", "selection", "dpok",  # dpok/: tracker logs (report_to)
         "heldout_split.json", "sweep_cell.json")  # the recorded held-out rows; a sweep cell's done marker
#: Kept across overwrites: the lock, the marker, the append-only privacy ledger.
KEPT = (LOCK_FILE, MARKER, LEDGER_FILE)
#: Left-overs of interrupted atomic writes (a temp dir/file that was never renamed into place):
#: ``.model.tmp-<pid>-<hex>`` (model/), ``.<name>.tmp-<pid>`` (atomic_write_text).
#: Entries whose presence means the run got past its start (trained, evaluated or saved something).
PROGRESS = ("checkpoints", "model", "summary.json", "kernel.pt", "privacy.json", "eval", "report")


def entries(run_dir: Path) -> list[str]:
    """Names in ``run_dir`` other than the lock file (the lock is taken before anything is decided)."""
    if not run_dir.is_dir():
        return []
    return sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_FILE)


def is_dpok_run(run_dir: Path | str) -> bool:
    run_dir = Path(run_dir)
    if (run_dir / MARKER).is_file():
        return True
    cfg = run_dir / "config.yaml"
    if not cfg.is_file() or cfg.is_symlink():
        return False
    try:
        data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and {"model", "data", "training", "output"} <= set(data)


def has_progress(run_dir: Path) -> bool:
    """Whether a run in ``run_dir`` got past its start: any output, or a metrics record."""
    if any((run_dir / name).exists() or (run_dir / name).is_symlink() for name in PROGRESS):
        return True
    metrics = run_dir / "metrics.jsonl"
    return metrics.is_file() and metrics.stat().st_size > 0


def _remove(path: Path) -> None:
    """Remove ``path`` without following a symbolic link (a link is unlinked, its target untouched)."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)  # rmtree never follows links inside the tree either


def clear_owned(run_dir: Path) -> list[str]:
    """Remove every dpok-owned entry (and temp left-overs) of ``run_dir``; returns the names removed."""
    removed = []
    for name in entries(run_dir):
        if name in OWNED or (name.startswith(".") and ".tmp-" in name):
            _remove(run_dir / name)
            removed.append(name)
    return removed


def write_marker(run_dir: Path) -> None:
    (run_dir / MARKER).write_text(json.dumps({"dpok_run": 1, "claimed": time.time()}) + "\n")


def _refuse_unsafe(run_dir: Path) -> None:
    """The working directory, its ancestors and the home directory are never overwritten."""
    here, target = Path.cwd().resolve(), run_dir.resolve()
    if target == here or target in here.parents or target == Path.home().resolve():
        raise ConfigError(f"output.dir {str(run_dir)!r} resolves to {target}, which contains the working directory "
                          "(or is the home directory): refusing to overwrite it; set output.dir to a run "
                          "subdirectory such as runs/my-run")


def prepare_fresh_run(run_dir: Path | str, overwrite: bool) -> None:
    """Make ``run_dir`` ready for a run from step 0 (the caller holds the run lock).

    * empty or missing: claimed (marker written);
    * a dpok run that never got past its start (a failed start: only config, log, marker): reused;
    * otherwise non-empty: refused unless ``overwrite``, and an overwrite is refused unless it is a dpok run;
      then every dpok-owned entry is removed (files dpok does not own are kept and named).
    """
    run_dir = Path(run_dir)
    names = entries(run_dir)
    if names:
        dpok_run = is_dpok_run(run_dir)
        # the marker, not the config.yaml heuristic: a user's own config.yaml in the directory is no failed start
        failed_start = (run_dir / MARKER).is_file() and not has_progress(run_dir)
        if not overwrite and not failed_start:
            raise ConfigError(f"output.dir {str(run_dir)!r} is not empty: pass --resume to continue it, "
                              "set output.overwrite: true to write over it, or choose another output.dir")
        if not dpok_run:
            raise ConfigError(f"output.dir {str(run_dir)!r} is not a dpok run directory (no {MARKER} marker or dpok "
                              f"config.yaml; it holds {', '.join(names[:5])}{', ...' if len(names) > 5 else ''}): "
                              "output.overwrite only replaces a previous dpok run; choose another output.dir")
        if not failed_start:
            _refuse_unsafe(run_dir)
        removed = clear_owned(run_dir)
        foreign = [n for n in entries(run_dir) if n not in KEPT]
        logger.info("output.dir %s: %s the previous run (removed %s)", run_dir,
                    "overwrote" if overwrite else "reused the failed start of", ", ".join(removed) or "nothing")
        if foreign:
            logger.warning("output.dir %s: kept %s (not written by dpok)", run_dir, ", ".join(foreign))
    run_dir.mkdir(parents=True, exist_ok=True)
    write_marker(run_dir)


def claim_run_dir(run_dir: Path | str, *, resume: bool, overwrite: bool, checkpoint: Path | None) -> bool:
    """Decide what this start does once the lock is held: True to resume from ``checkpoint``, False to
    start from step 0 (after :func:`prepare_fresh_run`).

    ``--resume`` on a dpok run with no checkpoint yet that never got past its start (a failed start)
    starts from step 0; with progress but no checkpoint it is refused (nothing to restore).
    """
    run_dir = Path(run_dir)
    if resume:
        if checkpoint is not None:
            if not is_dpok_run(run_dir):
                raise ConfigError(f"--resume: {run_dir} is not a dpok run directory (no {MARKER} or config.yaml)")
            return True
        if entries(run_dir) and (not is_dpok_run(run_dir) or has_progress(run_dir)):
            raise ConfigError(f"--resume: no complete checkpoint under {run_dir / 'checkpoints'}; "
                              "start without --resume (set training.save_steps to write checkpoints)")
        logger.info("--resume: %s has no checkpoint and no progress yet; starting from step 0", run_dir)
    prepare_fresh_run(run_dir, overwrite)
    return False

