"""Which configuration changes a ``--resume`` accepts.

A checkpoint stores the configuration it was trained with. Resuming compares it with the new one field
by field: a field in :data:`RESUMABLE_CHANGES` (when to stop, how often to log/evaluate/save, trackers,
what to write at the end) may change, because the trajectory of the weights does not depend on it; any
other change (data, model, objective, optimiser, seed, privacy...) is refused with a message listing every
refused field, since the restored optimiser, scheduler and kernel state would silently disagree with it.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError

#: Dotted fields (or section prefixes ending in ``.``) that may differ on ``--resume``.
RESUMABLE_CHANGES = (
    "training.max_steps",  # run longer (or stop earlier); the schedule takes the new horizon from here on
    "training.num_epochs",
    "training.max_time_s",
    "training.logging_steps",
    "training.eval_steps",
    "training.save_steps",
    "training.save_total_limit",
    "training.report_to",
    "training.max_consecutive_nonfinite",
    "output.",  # the directory being resumed, overwrite, save_model
    "strict_plugins",
)


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mapping -> ``{"a.b": leaf}``; lists are leaves."""
    if not isinstance(data, dict):
        return {prefix.rstrip("."): data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _allowed(field: str) -> bool:
    return any(field == a or (a.endswith(".") and field.startswith(a)) for a in RESUMABLE_CHANGES)


def config_changes(stored: dict, new: dict) -> dict[str, tuple[Any, Any]]:
    """``{field: (stored value, new value)}`` for every leaf that differs."""
    a, b = flatten(stored), flatten(new)
    missing = object()
    changes = {}
    for key in sorted(set(a) | set(b)):
        old, cur = a.get(key, missing), b.get(key, missing)
        if old != cur:
            changes[key] = (None if old is missing else old, None if cur is missing else cur)
    return changes


def check_resume_config(stored: Any, new: Any, checkpoint: str = "the checkpoint") -> dict[str, tuple[Any, Any]]:
    """The allowed changes between ``stored`` and ``new`` (RunConfigs or their JSON dumps); ConfigError
    listing every other changed field."""
    dump = (lambda c: c if isinstance(c, dict) else c.model_dump(mode="json"))
    changes = config_changes(dump(stored), dump(new))
    refused = {k: v for k, v in changes.items() if not _allowed(k)}
    if refused:
        lines = "\n".join(f"  {k}: {old!r} -> {cur!r}" for k, (old, cur) in refused.items())
        allowed = ", ".join(a.rstrip(".") + ("*" if a.endswith(".") else "") for a in RESUMABLE_CHANGES)
        raise ConfigError(f"--resume: the configuration differs from the one {checkpoint} was trained with in "
                          f"field(s) that cannot change mid-run:\n{lines}\nrestore them, or start a new run "
                          f"(another output.dir, or output.overwrite: true). Fields that may change on resume: "
                          f"{allowed}")
    return {k: v for k, v in changes.items() if _allowed(k)}
