"""The early-stopping rule, independent of dpok: best value so far and evaluations without improvement.

An evaluation improves when ``value < best - min_delta`` (``mode: min``) or ``value > best + min_delta``
(``mode: max``). After ``patience`` evaluations in a row without improvement, training stops.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

STATE_FILE = "early_stopping.json"


class EarlyStoppingSettings(BaseModel):
    """``plugins.early_stopping`` in the run configuration."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field("loss", description="An eval-row metric, e.g. loss or rewards/accuracies.")
    mode: Literal["min", "max"] = "min"
    patience: int = Field(3, gt=0, description="Evaluations without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0.0)


class EarlyStopping:
    def __init__(self, settings: EarlyStoppingSettings) -> None:
        self.settings = settings
        self.best: float | None = None
        self.bad_evals = 0

    def update(self, value: float) -> bool:
        """Record one evaluation; True when training should stop."""
        s = self.settings
        if not math.isfinite(value):
            self.bad_evals += 1
        elif self.best is None or (value < self.best - s.min_delta if s.mode == "min"
                                   else value > self.best + s.min_delta):
            self.best, self.bad_evals = value, 0
        else:
            self.bad_evals += 1
        return self.bad_evals >= s.patience

    def save(self, directory: Path) -> None:
        (Path(directory) / STATE_FILE).write_text(json.dumps({"best": self.best, "bad_evals": self.bad_evals}))

    def load(self, directory: Path) -> None:
        path = Path(directory) / STATE_FILE
        if path.is_file():
            data = json.loads(path.read_text())
            self.best, self.bad_evals = data["best"], int(data["bad_evals"])
