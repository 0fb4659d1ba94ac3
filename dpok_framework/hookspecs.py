"""Hook specifications of the ``dpok`` plugin system.

A plugin is a module (exposed through a ``[project.entry-points.dpok]`` entry point) containing
functions decorated with :data:`dpok_framework.hookimpl` and named after these specs.  Each hook
receives a ``register`` callable; call it once per component class::

    from dpok_framework import hookimpl

    @hookimpl
    def register_divergences(register):
        register(MyDivergence)

The class must subclass the kind's base class in :mod:`dpok_framework.components`, set a unique
``name`` and a pydantic ``Params`` model.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "dpok"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_kernels(register):
    """Register :class:`~dpok_framework.components.Kernel` subclasses (the embedding-similarity term)."""


@hookspec
def register_divergences(register):
    """Register :class:`~dpok_framework.components.Divergence` subclasses (f-DPO link or penalty)."""


@hookspec
def register_losses(register):
    """Register :class:`~dpok_framework.components.PreferenceLoss` subclasses (sigmoid, IPO, ...)."""


@hookspec
def register_embedders(register):
    """Register :class:`~dpok_framework.components.Embedder` subclasses (sources of e_x, e_y)."""


@hookspec
def register_selection_metrics(register):
    """Register :class:`~dpok_framework.components.SelectionMetric` subclasses (kernel/divergence choice)."""


@hookspec
def register_privacy_wrappers(register):
    """Register :class:`~dpok_framework.components.PrivacyWrapper` subclasses (DP releases)."""
