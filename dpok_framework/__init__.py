"""dpok-framework: DPO-Kernels preference optimisation with a pluggy plugin system."""

from __future__ import annotations

from .hookspecs import hookimpl, hookspec
from .registry import Registry, get_registry, load_registry, reset_registry, set_admission
from .admission import admit as _admit  # noqa: E402 (after the registry: admission builds on it)

set_admission(_admit)  # every Registry.build checks what a component declares before dpok uses it

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl", "hookspec", "Registry", "get_registry", "load_registry", "reset_registry"]
