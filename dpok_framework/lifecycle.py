"""Calls the lifecycle hooks of :mod:`dpok_framework.hookspecs` and merges what they return.

Hooks see a :class:`RunState` and read-only metrics. What they may do: return extra metrics (merged into the
row being written; overwriting an existing name is an error) and request a stop. Under several processes a
stop requested on any of them stops all of them (the trainer reduces the flag).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .errors import PluginError


@dataclass
class RunState:
    """What a lifecycle hook may know about the run (no model, optimiser or objective)."""

    global_step: int
    max_steps: int
    epoch: float
    run_dir: Path
    config: Any  # RunConfig, read-only by convention
    is_main_process: bool = True
    resumed_from: Path | None = None  # the checkpoint a resumed run continues from (read plugin files there)
    stop_reason: str | None = None
    plugin_data: dict[str, Any] = field(default_factory=dict)  # per-run objects of plugins, by plugin name
    _settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)

    def request_stop(self, reason: str) -> None:
        """Stop after this step (a checkpoint is written and the final evaluation runs as at max_steps)."""
        self.stop_reason = str(reason) or "requested by a plugin"

    @property
    def stop_requested(self) -> bool:
        return self.stop_reason is not None

    def settings(self, plugin: str) -> Mapping[str, Any]:
        """The ``plugins.<plugin>`` section of the run configuration ({} when absent)."""
        return MappingProxyType(dict(self._settings.get(plugin, {})))


class Lifecycle:
    """Runs the hooks of ``manager`` (a pluggy PluginManager; None: no hooks) against one :class:`RunState`."""

    def __init__(self, manager, state: RunState) -> None:
        self.hook = manager.hook if manager is not None else None
        self.state = state

    def train_start(self) -> None:
        if self.hook is not None:
            self.hook.dpok_train_start(state=self.state)

    def step_end(self, metrics: dict[str, float]) -> dict[str, float]:
        """Extra metrics from every ``dpok_step_end`` implementation."""
        if self.hook is None:
            return {}
        return merge_extra(metrics, self.hook.dpok_step_end(state=self.state, metrics=MappingProxyType(metrics)),
                           "dpok_step_end")

    def evaluate(self, metrics: dict[str, float]) -> dict[str, float]:
        if self.hook is None:
            return {}
        return merge_extra(metrics, self.hook.dpok_evaluate(state=self.state, metrics=MappingProxyType(metrics)),
                           "dpok_evaluate")

    def save(self, path: Path) -> None:
        if self.hook is not None:
            self.hook.dpok_save(state=self.state, path=Path(path))

    def train_end(self, summary: dict) -> None:
        if self.hook is not None:
            self.hook.dpok_train_end(state=self.state, summary=MappingProxyType(summary))


def merge_extra(metrics: Mapping[str, float], results: list, hook: str) -> dict[str, float]:
    """The union of the dicts hooks returned, checked: float-convertible values, no name reused."""
    extra: dict[str, float] = {}
    for res in results:
        if res is None:
            continue
        if not isinstance(res, Mapping):
            raise PluginError(f"{hook} returned {type(res).__name__}; return a dict of metric name -> float or None")
        for name, value in res.items():
            if name in metrics or name in extra:
                raise PluginError(f"{hook}: metric {name!r} already exists; a hook may add metrics, not replace them")
            try:
                extra[str(name)] = float(value)
            except (TypeError, ValueError):
                raise PluginError(f"{hook}: metric {name!r} = {value!r} is not a number") from None
    return extra
