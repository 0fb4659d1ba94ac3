"""``dpok sweep run``: run the cells one after another in this process, resumably.

A cell is *finished* when its run directory holds ``sweep_cell.json`` (written last, after training and
the held-out evaluation). ``run`` skips finished cells; a cell with a complete checkpoint but no final
outputs resumes from that checkpoint (``Engine(..., resume=True)``); a trained cell whose evaluation was
interrupted is only evaluated. A run directory made from a different configuration is never reused.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable

import yaml

from ..errors import ConfigError, DpokError
from .plan import Cell, Plan, read_cell_config

logger = logging.getLogger(__name__)

DONE_FILE = "sweep_cell.json"


def cell_status(cell: Cell) -> str:
    """``finished`` | ``evaluate`` (trained, not evaluated) | ``resume`` (checkpoint) | ``start``."""
    from ..training import latest_checkpoint

    run = Path(cell.run_dir)
    if (run / DONE_FILE).is_file():
        return "finished"
    if (run / "summary.json").is_file() and (run / "model" / "config.json").is_file():
        return "evaluate"
    if run.is_dir() and latest_checkpoint(run) is not None:
        return "resume"
    return "start"


def _check_same_config(cell: Cell) -> None:
    """Refuse to continue a run directory whose config.yaml differs from the cell's planned config."""
    have = Path(cell.run_dir) / "config.yaml"
    if not have.is_file():
        return
    old = yaml.safe_load(have.read_text(encoding="utf-8"))
    new = yaml.safe_load(Path(cell.config).read_text(encoding="utf-8"))
    if old != new:
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise ConfigError(f"cell {cell.name}: {cell.run_dir} was made with a different configuration "
                          f"(sections {changed} differ); delete that run directory or give the sweep "
                          "another output directory")


def _reset_accelerate() -> None:
    """Accelerate keeps one global state per process; each cell starts clean."""
    from accelerate.state import AcceleratorState, GradientState, PartialState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    PartialState._reset_state()


def run_cell(cell: Cell, registry=None) -> str:
    """Bring one cell to ``finished``; returns what was done (``skipped``, ``started``, ``resumed``,
    ``evaluated``)."""
    from ..evaluation.evaluate import evaluate
    from ..training import Engine

    status = cell_status(cell)
    if status == "finished":
        return "skipped"
    cfg = read_cell_config(cell)
    _check_same_config(cell)
    t0 = time.monotonic()
    if status in ("start", "resume"):
        _reset_accelerate()
        Engine(cfg, resume=status == "resume", registry=registry, progress=False).train()  # + model card
    _reset_accelerate()
    from accelerate import Accelerator
    import torch

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    evaluate(cell.run_dir, registry=registry, accelerator=accelerator)
    if accelerator.is_main_process:
        done = Path(cell.run_dir) / DONE_FILE
        tmp = done.with_name(f".{DONE_FILE}.tmp")
        tmp.write_text(json.dumps({"cell": cell.name, "labels": cell.labels, "seed": cell.seed,
                                   "baseline": cell.baseline, "finished_by": status,
                                   "seconds": round(time.monotonic() - t0, 2)}) + "\n", encoding="utf-8")
        tmp.replace(done)
    _reset_accelerate()
    return {"start": "started", "resume": "resumed", "evaluate": "evaluated"}[status]


def run_sweep(plan: Plan, cells: list[str] | None = None, registry=None,
              on_cell: Callable[[Cell, str, float], None] | None = None) -> dict[str, str]:
    """Run the named cells (default: all, in plan order) one after another; ``{cell: what was done}``.
    A cell that fails with a :class:`~dpok_framework.errors.DpokError` is reported (``failed: ...``) and
    left unfinished; the others still run (a later ``run`` retries it)."""
    todo = [plan.cell(n) for n in cells] if cells else plan.cells
    done: dict[str, str] = {}
    for cell in todo:
        t0 = time.monotonic()
        try:
            what = run_cell(cell, registry)
        except DpokError as exc:  # a bad cell (diverged, bad override) must not stop the others
            what = f"failed: {exc}"
            logger.error("sweep cell %s failed: %s", cell.name, exc)
        done[cell.name] = what
        logger.info("sweep cell %s: %s (%.1f s)", cell.name, what, time.monotonic() - t0)
        if on_cell is not None:
            on_cell(cell, what, time.monotonic() - t0)
    return done
