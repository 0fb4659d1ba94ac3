"""Compatibility re-exports: the engine now lives in :mod:`dpok_framework.training` (the trainer) and
:mod:`dpok_framework.objective` (the maths). ``from dpok_framework.engine import Engine`` keeps working."""

from ..objective import (DpoKernelsObjective, ForwardOutput, ObjectiveOutput, ReferenceOutput, build_objective,
                         forward_logps, sequence_logps, token_logps)
from ..training import (Engine, NonFiniteStepWarning, TrainerState, TrainingError, TrainResult, latest_checkpoint,
                        list_checkpoints, read_metrics)

__all__ = ["Engine", "TrainResult", "TrainingError", "NonFiniteStepWarning", "TrainerState", "latest_checkpoint",
           "list_checkpoints", "ForwardOutput", "forward_logps", "sequence_logps", "token_logps", "read_metrics",
           "DpoKernelsObjective", "ObjectiveOutput", "ReferenceOutput", "build_objective"]
