"""Plugin discovery through the ``dpok`` entry-point group, with per-plugin failure isolation.

Discovery uses pluggy's own ``load_setuptools_entrypoints("dpok")`` followed by ``check_pending()``.
Because pluggy stops at the first plugin that fails to import, each entry point is first imported
on its own: a failing one is recorded (distribution, version, exception) and blocked, so the rest
still load.  Environment control, as in ``llm`` and ``pytest``:

* ``DPOK_PLUGINS=a,b``: load only these plugins (entry-point or distribution names); empty: none.
* ``DPOK_DISABLE_PLUGINS=a,b``: never load these.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
ENV_ALLOW = "DPOK_PLUGINS"
ENV_BLOCK = "DPOK_DISABLE_PLUGINS"


class PluginLoadWarning(UserWarning):
    """A plugin failed to import or its hook raised; the rest of the plugins loaded."""


@dataclass
class PluginFailure:
    plugin: str
    distribution: str | None
    version: str | None
    stage: str  # "import", "validate" or the hook name
    error: str
    traceback: str = ""

    def message(self) -> str:
        where = f"{self.distribution} {self.version}" if self.distribution else "unknown distribution"
        return f"dpok plugin {self.plugin!r} ({where}) failed at {self.stage}: {self.error}"

    def to_json(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "distribution": self.distribution, "version": self.version,
                "stage": self.stage, "error": self.error}


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    module: str
    hooks: list[str] = field(default_factory=list)
    components: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "distribution": self.distribution, "version": self.version,
                "module": self.module, "hooks": sorted(self.hooks),
                "components": {k: sorted(v) for k, v in sorted(self.components.items())}}


def _split_env(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {_norm(p) for p in raw.split(",") if p.strip()}


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _dpok_entry_points() -> list[tuple[md.EntryPoint, md.Distribution]]:
    seen: set[str] = set()
    found = []
    for dist in md.distributions():
        for ep in dist.entry_points:
            if ep.group == ENTRY_POINT_GROUP and ep.name not in seen:
                seen.add(ep.name)
                found.append((ep, dist))
    return found


@dataclass
class LoadedPlugins:
    manager: pluggy.PluginManager
    plugins: dict[str, PluginInfo]
    failures: list[PluginFailure]
    disabled: list[str]


def _fail(failure: PluginFailure, strict: bool, failures: list[PluginFailure], exc: BaseException) -> None:
    if strict:
        raise PluginError(failure.message()) from exc
    failures.append(failure)
    warnings.warn(failure.message(), PluginLoadWarning, stacklevel=3)


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def load_plugins(strict: bool = False) -> LoadedPlugins:
    """Discover and register every allowed ``dpok`` entry point; isolate failures unless ``strict``."""
    pm = new_plugin_manager()
    allow, block = _split_env(ENV_ALLOW), _split_env(ENV_BLOCK) or set()
    failures: list[PluginFailure] = []
    disabled: list[str] = []
    dist_of: dict[str, md.Distribution] = {}
    name_of_obj: dict[int, str] = {}

    for ep, dist in _dpok_entry_points():
        dist_name = dist.metadata["Name"]
        names = {_norm(ep.name), _norm(dist_name or "")}
        if (allow is not None and not names & allow) or names & block:
            pm.set_blocked(ep.name)
            disabled.append(ep.name)
            continue
        dist_of[ep.name] = dist
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            pm.set_blocked(ep.name)
            _fail(PluginFailure(ep.name, dist_name, dist.version, "import", f"{type(exc).__name__}: {exc}",
                                traceback.format_exc()), strict, failures, exc)
            continue
        name_of_obj[id(obj)] = ep.name

    # pluggy's own loader; a plugin whose hooks do not match the specs is blocked and loading resumes.
    while True:
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            name = name_of_obj.get(id(exc.plugin)) or pm.get_name(exc.plugin) or repr(exc.plugin)
            if pm.is_registered(exc.plugin):
                pm.unregister(exc.plugin)
            pm.set_blocked(name)
            dist = dist_of.get(name)
            _fail(PluginFailure(name, dist.metadata["Name"] if dist else None, dist.version if dist else None,
                                "validate", f"{type(exc).__name__}: {exc}"), strict, failures, exc)

    plugins: dict[str, PluginInfo] = {}
    for plugin, distfacade in pm.list_plugin_distinfo():
        name = pm.get_name(plugin)
        plugins[name] = PluginInfo(
            name=name, distribution=distfacade.project_name, version=distfacade.version,
            module=getattr(plugin, "__name__", type(plugin).__name__),
            hooks=hook_names(pm, plugin))
    return LoadedPlugins(pm, plugins, failures, disabled)


def hook_names(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """Names of the hooks ``plugin`` implements."""
    return [hc.name for hc in pm.get_hookcallers(plugin) or []]
