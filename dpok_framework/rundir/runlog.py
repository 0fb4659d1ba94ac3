"""``train.log``: every ``dpok_framework`` log record of a run at INFO and above, whatever the console shows
(``dpok train -q`` prints warnings only; the file still gets the whole story), and the error that ended
the run, if one did."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

from ..errors import DpokError

LOG_FILE = "train.log"
_LOGGER = "dpok_framework"
logger = logging.getLogger(_LOGGER)


@contextlib.contextmanager
def run_log(run_dir: Path, enabled: bool) -> Iterator[None]:
    """Copy ``dpok_framework`` records into ``run_dir/train.log`` (main process) while open; an exception
    leaving the block is recorded there (a DpokError as its message, anything else with its traceback)."""
    if not enabled:
        yield
        return
    handler = logging.FileHandler(Path(run_dir) / LOG_FILE, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    pkg = logging.getLogger(_LOGGER)
    old_level = pkg.level
    if pkg.getEffectiveLevel() > logging.INFO:  # -q: the console filters by its handler level, not here
        pkg.setLevel(logging.INFO)
    pkg.addHandler(handler)
    try:
        yield
    except BaseException as exc:
        if isinstance(exc, DpokError):
            logger.error("run failed: %s", exc)
        elif isinstance(exc, KeyboardInterrupt):
            logger.error("run interrupted (KeyboardInterrupt)")
        else:
            logger.error("run failed: %s: %s", type(exc).__name__, exc, exc_info=True)
        raise
    finally:
        pkg.removeHandler(handler)
        handler.close()
        pkg.setLevel(old_level)
