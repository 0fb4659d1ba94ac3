"""The component registry: what the plugins registered, by kind and name, and how to build it.

    >>> from dpok_framework import get_registry
    >>> reg = get_registry()
    >>> kernel = reg.build("kernel", {"name": "rbf", "params": {"sigma": 0.5}})
"""

from __future__ import annotations

import difflib
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pluggy
from pydantic import ValidationError

from .errors import ComponentParamsError, DuplicateComponentError, PluginError, UnknownComponentError
from .kinds import KINDS
from .plugins import LoadedPlugins, PluginFailure, PluginInfo, _fail, hook_names, load_plugins


@dataclass(frozen=True)
class ComponentInfo:
    kind: str
    name: str
    cls: type
    plugin: str
    distribution: str | None
    version: str | None

    def where(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else "no distribution"
        return f"plugin {self.plugin!r} ({dist})"

    def to_json(self) -> dict[str, Any]:
        d = self.cls.describe()
        d.update(plugin=self.plugin, distribution=self.distribution, version=self.version)
        return d


def _spec_parts(kind: str, spec: Any) -> tuple[str, dict[str, Any]]:
    """Accept ``"name"``, ``{"name": ..., "params": {...}}`` or an object with ``name``/``params``."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping):
        extra = set(spec) - {"name", "params"}
        if "name" not in spec or extra:
            raise ComponentParamsError(
                f"{kind} spec must be a name or {{name: ..., params: {{...}}}}; got keys {sorted(spec)}")
        return spec["name"], dict(spec.get("params") or {})
    if hasattr(spec, "name") and hasattr(spec, "params"):
        return spec.name, dict(spec.params or {})
    raise ComponentParamsError(f"cannot read a {kind} spec from {type(spec).__name__}")


class Registry:
    """Components by kind and name, plus the plugin inventory that produced them."""

    def __init__(self, loaded: LoadedPlugins, strict: bool = False) -> None:
        self.manager: pluggy.PluginManager = loaded.manager
        self.plugins: dict[str, PluginInfo] = loaded.plugins
        self.failures: list[PluginFailure] = loaded.failures
        self.disabled: list[str] = loaded.disabled
        self.strict = strict
        self._components: dict[str, dict[str, ComponentInfo]] = {k: {} for k in KINDS}
        # (kind, name) registered by more than one plugin: unusable until one is removed, listed by `dpok plugins`
        self.clashes: dict[tuple[str, str], list[ComponentInfo]] = {}
        for kind in KINDS.values():
            for impl in reversed(getattr(self.manager.hook, kind.hook).get_hookimpls()):
                self._run_hook(kind.key, impl.plugin_name, impl.function)

    # -- population -----------------------------------------------------------------------
    def _run_hook(self, kind: str, plugin_name: str, function: Any) -> None:
        info = self.plugins.get(plugin_name)
        dist, version = (info.distribution, info.version) if info else (None, None)
        staged: list[ComponentInfo] = []

        def register(cls: type) -> None:
            staged.append(self._check_class(kind, cls, plugin_name, dist, version))

        try:
            function(register=register)
        except DuplicateComponentError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the tool down
            failure = PluginFailure(plugin_name, dist, version, KINDS[kind].hook,
                                    f"{type(exc).__name__}: {exc}", traceback.format_exc())
            _fail(failure, self.strict, self.failures, exc)
            return
        for comp in staged:
            self._add(comp)

    def _check_class(self, kind: str, cls: Any, plugin: str, dist: str | None, version: str | None
                     ) -> ComponentInfo:
        base = KINDS[kind].base
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(f"{KINDS[kind].hook} got {cls!r}: register a subclass of {base.__module__}.{base.__name__}")
        name = getattr(cls, "name", "")
        if not isinstance(name, str) or not name:
            raise PluginError(f"{cls.__module__}.{cls.__qualname__} has no `name` class attribute")
        return ComponentInfo(kind, name, cls, plugin, dist, version)

    def _add(self, comp: ComponentInfo) -> None:
        key = (comp.kind, comp.name)
        existing = self._components[comp.kind].get(comp.name)
        clash = self.clashes.get(key)
        if clash is not None or (existing is not None and existing.cls is not comp.cls):
            if clash is None:
                clash = self.clashes[key] = [existing]
                del self._components[comp.kind][comp.name]
            if all(c.cls is not comp.cls for c in clash):
                clash.append(comp)
            if self.strict:
                raise DuplicateComponentError(self.clash_message(comp.kind, comp.name))
        else:
            self._components[comp.kind][comp.name] = comp
        if comp.plugin in self.plugins:
            names = self.plugins[comp.plugin].components.setdefault(comp.kind, [])
            if comp.name not in names:
                names.append(comp.name)

    def clash_message(self, kind: str, name: str) -> str:
        clash = self.clashes[(kind, name)]
        where = ", ".join(c.where() for c in clash)
        plugins = ",".join(c.plugin for c in clash[1:])
        return (f"{len(clash)} {kind} components are named {name!r}: {where}. dpok will not guess which one you "
                f"mean: uninstall or disable all but one (e.g. DPOK_DISABLE_PLUGINS={plugins}).")

    def register_plugin(self, plugin: Any, name: str | None = None) -> None:
        """Register an in-process plugin object (module or instance with hookimpls), e.g. from a notebook."""
        name = self.manager.register(plugin, name=name)
        if name is None:
            raise PluginError(f"plugin {plugin!r} is blocked")
        self.plugins[name] = PluginInfo(name, None, None, getattr(plugin, "__name__", type(plugin).__name__),
                                        hooks=hook_names(self.manager, plugin))
        for kind in KINDS.values():
            for impl in getattr(self.manager.hook, kind.hook).get_hookimpls():
                if impl.plugin is plugin:
                    self._run_hook(kind.key, name, impl.function)

    # -- lookup ---------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        self._check_kind(kind)
        return sorted(self._components[kind])

    def infos(self, kind: str) -> list[ComponentInfo]:
        """The usable components of ``kind`` (clashing names excluded), by name."""
        self._check_kind(kind)
        return [c for _, c in sorted(self._components[kind].items())]

    def classes(self, kind: str) -> dict[str, type]:
        return {n: c.cls for n, c in sorted(self._components[kind].items())}

    def get(self, kind: str, name: str) -> ComponentInfo:
        self._check_kind(kind)
        if (kind, name) in self.clashes:
            raise DuplicateComponentError(self.clash_message(kind, name))
        try:
            return self._components[kind][name]
        except KeyError:
            available = self.names(kind)
            close = difflib.get_close_matches(name, available, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            avail = ", ".join(available) if available else "none (is a plugin package installed?)"
            raise UnknownComponentError(f"unknown {kind} {name!r}.{hint} Available: {avail}.") from None

    def validate(self, kind: str, spec: Any, where: str | None = None) -> tuple[ComponentInfo, Any]:
        """Validate a spec's params against the component's pydantic model; returns (info, params)."""
        name, raw = _spec_parts(kind, spec)
        info = self.get(kind, name)
        try:
            return info, info.cls.Params(**raw)
        except ValidationError as exc:
            prefix = where or kind
            lines = [f"{prefix}.params.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
            raise ComponentParamsError(f"invalid parameters for {kind} {name!r}:\n  " + "\n  ".join(lines)) from None

    def build(self, kind: str, spec: Any, where: str | None = None, admit: bool = True) -> Any:
        """Instantiate a component from ``"name"`` or ``{"name": ..., "params": {...}}``.

        ``admit``: first run the component's runtime admission check (:mod:`dpok_framework.admission`, cached
        per class and params); a component violating a property it declares raises
        :class:`~dpok_framework.admission.AdmissionError` and is not built."""
        info, params = self.validate(kind, spec, where)
        if admit:
            if _ADMISSION is None:
                raise PluginError("runtime admission is not installed (import dpok_framework, whose __init__ "
                                  "installs dpok_framework.admission.admit)")
            _ADMISSION(info, params)
        return info.cls(params)

    def _check_kind(self, kind: str) -> None:
        if kind not in KINDS:
            raise UnknownComponentError(f"unknown component kind {kind!r}; kinds: {', '.join(KINDS)}")

    def to_json(self) -> dict[str, Any]:
        return {
            "plugins": [p.to_json() for _, p in sorted(self.plugins.items())],
            "failures": [f.to_json() for f in self.failures],
            "disabled": sorted(self.disabled),
            "clashes": [{"kind": k, "name": n, "components": [{"plugin": c.plugin, "distribution": c.distribution,
                                                                "version": c.version} for c in v]}
                        for (k, n), v in sorted(self.clashes.items())],
            "components": {k: [c.to_json() for _, c in sorted(v.items())] for k, v in self._components.items()},
        }


_ADMISSION: Callable[[ComponentInfo, Any], Any] | None = None


def set_admission(check: Callable[[ComponentInfo, Any], Any] | None) -> None:
    """Install the runtime admission check ``Registry.build`` runs (``dpok_framework/__init__`` installs
    :func:`dpok_framework.admission.admit`; the registry itself stays below the contract's layers)."""
    global _ADMISSION
    _ADMISSION = check


_CACHE: dict[bool, Registry] = {}


def load_registry(strict: bool = False) -> Registry:
    """Discover plugins now and build a fresh registry (ignores the cache)."""
    return Registry(load_plugins(strict=strict), strict=strict)


def get_registry(strict: bool = False) -> Registry:
    """The process-wide registry, discovered on first use."""
    if strict not in _CACHE:
        _CACHE[strict] = load_registry(strict)
    return _CACHE[strict]


def reset_registry() -> None:
    """Forget the cached registry (after installing a plugin or changing DPOK_* variables)."""
    _CACHE.clear()
