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

Lifecycle hooks (the second half of this file) add behaviour to a training run instead of maths. They see
a :class:`~dpok_framework.lifecycle.RunState` (step, epoch, run directory, configuration, the
plugin's own ``plugins.<name>`` settings) and read-only metrics; they may return extra metrics (a dict of
floats, merged into the row being written; a name that already exists is an error) and call
``state.request_stop(reason)``. They never receive the model, the optimiser or the objective, so they
cannot change what is optimised. ``register_commands(cli)`` lets a plugin add a ``dpok`` sub-command.
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


# ---------------------------------------------------------------------------------------------- lifecycle

@hookspec
def dpok_train_start(state):
    """Training is set up (models, data, reference, optimiser; a resumed run has restored its checkpoint)
    and the first step is about to run. Return None."""


@hookspec
def dpok_step_end(state, metrics):
    """After every optimiser step. ``metrics``: the train row about to be written when this step logs
    (read-only), else empty. Return a dict of extra metrics (or None); call ``state.request_stop`` to stop."""


@hookspec
def dpok_evaluate(state, metrics):
    """After a held-out evaluation (during training, and by ``dpok eval`` where ``state.global_step`` is the
    run's last step). ``metrics``: the eval row (read-only). Return a dict of extra metrics (or None)."""


@hookspec
def dpok_save(state, path):
    """A checkpoint is being written: ``path`` is its (still temporary) directory, renamed into place after
    every hook returned, so files a plugin writes there are part of the checkpoint. Return None."""


@hookspec
def dpok_train_end(state, summary):
    """The run finished and its outputs are written; ``summary``: the contents of summary.json (read-only)."""


@hookspec
def register_commands(cli):
    """Add sub-commands to the ``dpok`` command line: ``cli.add_command(my_click_command)``."""
