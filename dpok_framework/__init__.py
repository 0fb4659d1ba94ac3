"""dpok-framework: DPO-Kernels preference optimisation with a pluggy plugin system."""

from __future__ import annotations

from .hookspecs import hookimpl, hookspec
from .registry import Registry, get_registry, load_registry, reset_registry

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl", "hookspec", "Registry", "get_registry", "load_registry", "reset_registry"]
