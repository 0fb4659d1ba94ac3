"""An exclusive lock on a run directory, held for the whole run: ``flock`` on ``<run_dir>/.dpok.lock``.

The kernel releases an ``flock`` when its holder exits, however it exits (``kill -9`` included), so a lock
file left behind by a dead run is never a stale lock: the next run takes it and says whose it was. The
file records the holder (pid, host, start time) so a refusal can name it. Two ``dpok train`` into one
directory, from one process or many, on this host or on a shared filesystem that supports ``flock``:
the second is refused before it reads or writes anything in the directory.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

from ..errors import DpokError

logger = logging.getLogger(__name__)

LOCK_FILE = ".dpok.lock"


class RunLockedError(DpokError):
    """Another live dpok process holds the run directory's lock; the message names its pid and host."""


def _holder_text(info: dict) -> str:
    if not info:
        return "another process (holder unknown)"
    since = info.get("started")
    when = time.strftime(" since %Y-%m-%d %H:%M:%S UTC", time.gmtime(since)) if isinstance(since, (int, float)) else ""
    return f"pid {info.get('pid', '?')} on host {info.get('host', '?')}{when}"


class RunLock:
    """``with RunLock(run_dir): ...``; or :meth:`acquire` / :meth:`release`. Creates ``run_dir`` if needed."""

    def __init__(self, run_dir: Path | str) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def read_holder(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self) -> "RunLock":
        import fcntl

        if self._fd is not None:
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(
                f"output.dir {str(self.run_dir)!r} is in use by another dpok run: {_holder_text(self.read_holder())} "
                f"holds its lock ({self.path}); wait for that run to finish, or choose another output.dir") from None
        except OSError as exc:  # a filesystem without flock: say so rather than run unprotected silently
            os.close(fd)
            raise RunLockedError(f"output.dir {str(self.run_dir)!r}: cannot lock {self.path} ({exc}); this "
                                 "filesystem does not support flock: use a local output.dir") from None
        previous = self.read_holder()
        if previous and previous.get("pid") != os.getpid():
            logger.info("run lock: taking over %s from a run that is no longer running (%s)", self.path,
                        _holder_text(previous))
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        import fcntl

        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # no holder recorded once released (the file itself stays: see module doc)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
