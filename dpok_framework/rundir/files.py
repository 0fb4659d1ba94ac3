"""Writing run-directory files: strict JSON, atomic replacement, umask-respecting temp dirs, ENOSPC named.

Strict JSON: Python's ``json`` writes ``NaN`` / ``Infinity``, which are not JSON (``jq``, browsers and most
parsers reject them). Every JSON file dpok writes goes through :func:`strict_json`: a non-finite float
becomes ``null`` (documented in docs/engine.md), and ``allow_nan=False`` guarantees nothing else slips by.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Iterator

from ..errors import DpokError

#: Below this much free space, a write that failed with an unspecific error (torch's
#: ``basic_ios::clear: iostream error``, safetensors' I/O error) is reported as a full disk.
LOW_SPACE_BYTES = 16 * 1024 * 1024


class DiskFullError(DpokError, OSError):
    """No space left on the device while writing a run file (ENOSPC); the message names the path."""


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:  # numpy/torch scalar
        return _finite(value.item())
    return value


def strict_json(obj: Any, indent: int | None = 2) -> str:
    """``obj`` as standard JSON: NaN and +-inf written as ``null``; never ``NaN``/``Infinity`` tokens."""
    return json.dumps(_finite(obj), indent=indent, allow_nan=False)


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """A new, uniquely named directory under ``parent`` created with the default mode (0777 minus the
    umask), unlike ``tempfile.mkdtemp``, which always creates 0700: a directory later renamed into place
    (``model/``) must get the permissions every other run file gets."""
    parent = Path(parent)
    for _ in range(100):
        path = parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary directory under {parent}")


def current_umask() -> int:
    """The process umask (read from /proc where possible: setting it to read it is not thread-safe)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(root: Path) -> None:
    """Give ``root`` and everything under it the modes a plain ``open``/``mkdir`` would (0666/0777 minus
    the umask): some writers (safetensors) create their files 0600 whatever the umask."""
    mask = current_umask()
    root = Path(root)
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def _is_disk_full(exc: BaseException, path: Path) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(exc, (OSError, RuntimeError)):  # writers that lose errno: judge by the free space left
        probe = path if path.is_dir() else path.parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        try:
            return shutil.disk_usage(probe).free < LOW_SPACE_BYTES
        except OSError:
            return False
    return False


@contextlib.contextmanager
def disk_errors(path: Path | str, what: str = "") -> Iterator[None]:
    """Re-raise a failed write under ``path`` as :class:`DiskFullError` naming ENOSPC and the path when the
    disk is full (other errors pass unchanged)."""
    path = Path(path)
    try:
        yield
    except DiskFullError:
        raise
    except (OSError, RuntimeError) as exc:
        if not _is_disk_full(exc, path):
            raise
        label = f" {what}" if what else ""
        raise DiskFullError(errno.ENOSPC, f"no space left on device (ENOSPC) while writing{label} {path}: free "
                                          f"space and resume with --resume (the last complete checkpoint is "
                                          f"intact); original error: {exc}") from exc


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same directory + fsync + ``os.replace``: readers see
    the old content or the new one, never a torn file; a full disk leaves the old file and names ENOSPC."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with disk_errors(path):
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path: Path | str, obj: Any) -> None:
    """``obj`` as strict JSON (see :func:`strict_json`), written atomically."""
    atomic_write_text(path, strict_json(obj) + "\n")
