"""Lifecycle hooks: active only when the run configuration has a ``plugins.early_stopping`` section.

    plugins:
      early_stopping: {metric: rewards/accuracies, mode: max, patience: 2}

Needs held-out evaluation during training (``training.eval_steps``). Each eval row gets
``early_stopping/best`` and ``early_stopping/bad_evals``; the state is saved in every checkpoint, so a
resumed run keeps counting.
"""

from __future__ import annotations

from pydantic import ValidationError

from dpok_framework import hookimpl
from dpok_framework.errors import ConfigError

from .tracker import EarlyStopping, EarlyStoppingSettings

NAME = "early_stopping"


def _settings(state) -> EarlyStoppingSettings | None:
    raw = state.settings(NAME)
    if not raw:
        return None
    try:
        return EarlyStoppingSettings(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"plugins.{NAME}.{field}: {err['msg']}") from None


@hookimpl
def dpok_train_start(state):
    settings = _settings(state)
    if settings is None:
        return
    if not state.config.training.eval_steps:
        raise ConfigError(f"plugins.{NAME} needs held-out evaluation during training: set training.eval_steps")
    tracker = EarlyStopping(settings)
    if state.resumed_from is not None:
        tracker.load(state.resumed_from)
    state.plugin_data[NAME] = tracker


@hookimpl
def dpok_evaluate(state, metrics):
    tracker = state.plugin_data.get(NAME)
    if tracker is None:  # not configured, or `dpok eval` (no training to stop)
        return None
    metric = tracker.settings.metric
    if metric not in metrics:
        raise ConfigError(f"plugins.{NAME}.metric: {metric!r} is not an eval metric; available: "
                          f"{', '.join(sorted(metrics))}")
    if tracker.update(float(metrics[metric])):
        state.request_stop(f"early stopping: {metric} did not improve for {tracker.settings.patience} evaluations")
    return {f"{NAME}/best": tracker.best if tracker.best is not None else float("nan"),
            f"{NAME}/bad_evals": tracker.bad_evals}


@hookimpl
def dpok_save(state, path):
    tracker = state.plugin_data.get(NAME)
    if tracker is not None and state.is_main_process:
        tracker.save(path)
