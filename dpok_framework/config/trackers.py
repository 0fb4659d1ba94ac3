"""``training.report_to``: tracker names Accelerate knows, and whether each one's package is installed.

Decision: an unknown name (``[bogus]``) fails when the config is loaded, and a known tracker whose
package is missing (``[wandb]`` without wandb) fails at ``dpok config validate`` / engine start-up,
both naming ``training.report_to``.  Accelerate itself only logs a warning for a missing package and
trains without the tracker, so a run the user meant to track would go unrecorded.
"""

from __future__ import annotations

ALL = "all"  # Accelerate: every tracker whose package is installed


def known_trackers() -> list[str]:
    # deferred: importing accelerate costs ~1 s, and most configs name no tracker
    from accelerate.utils import LoggerType

    return [t for t in LoggerType.list() if t != ALL]


def installed_trackers() -> list[str]:
    from accelerate.tracking import get_available_trackers

    return sorted(str(getattr(t, "value", t)) for t in get_available_trackers())


def check_tracker_names(names: list[str]) -> list[str]:
    """``names`` if each is ``all`` or a tracker Accelerate knows; ValueError listing the known ones."""
    if not names:
        return names
    known = known_trackers()
    bad = [n for n in names if n != ALL and n not in known]
    if bad:
        raise ValueError(f"unknown tracker(s) {bad}; choose from {[ALL, *known]}")
    return names


def missing_trackers(names: list[str]) -> list[str]:
    """The named trackers whose package is not installed (``all`` never is: it means what is installed)."""
    if not names:
        return []
    have = set(installed_trackers())
    return [n for n in names if n != ALL and n not in have]
