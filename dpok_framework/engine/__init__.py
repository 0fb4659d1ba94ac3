"""The training engine: ``Engine(config).train()``, the DPO-Kernels objective and log-prob helpers.

Run directory layout (read by evaluation/report; see docs/engine.md)::

    config.yaml  metrics.jsonl  summary.json  train.log  model/  kernel.pt  privacy.json
    checkpoints/step-XXXXXXXX/
"""

from .checkpoint import TrainerState, latest_checkpoint, list_checkpoints
from .engine import Engine, NonFiniteStepWarning, TrainingError, TrainResult
from .logps import ForwardOutput, forward_logps, sequence_logps, token_logps
from .metrics import read_metrics
from .objective import DpoKernelsObjective, ObjectiveOutput, ReferenceOutput, build_objective

__all__ = ["Engine", "TrainResult", "TrainingError", "NonFiniteStepWarning", "TrainerState", "latest_checkpoint",
           "list_checkpoints", "ForwardOutput", "forward_logps", "sequence_logps", "token_logps", "read_metrics",
           "DpoKernelsObjective", "ObjectiveOutput", "ReferenceOutput", "build_objective"]
