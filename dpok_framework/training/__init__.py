"""Training: ``Engine(config).train()``, the step loop, checkpoints, the reference log-prob cache,
metrics and held-out evaluation during training.

Run directory layout (read by evaluation/report; see docs/engine.md)::

    config.yaml  metrics.jsonl  summary.json  train.log  model/  kernel.pt  privacy.json
    checkpoints/step-XXXXXXXX/
"""

from .checkpoint import TrainerState, latest_checkpoint, list_checkpoints
from .metrics import read_metrics
from .trainer import Engine, NonFiniteStepWarning, TrainingError, TrainResult

__all__ = ["Engine", "TrainResult", "TrainingError", "NonFiniteStepWarning", "TrainerState", "latest_checkpoint",
           "list_checkpoints", "read_metrics"]
