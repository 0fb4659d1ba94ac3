"""Base class for data-driven selection metrics (kernel or divergence choice)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from .base import Component, Params


class SelectionMetric(Component):
    """Scores one candidate kernel or divergence on data.

    ``target`` says which kind of candidate it scores; ``higher_is_better`` its direction;
    ``favours`` a short phrase for reports (e.g. "kernels that separate chosen from rejected").
    """

    kind: ClassVar[str] = "selection_metric"
    target: ClassVar[Literal["kernel", "divergence"]] = "kernel"
    higher_is_better: ClassVar[bool] = True
    favours: ClassVar[str] = ""

    def __init__(self, params: Params | None = None, **kwargs) -> None:
        self._init_params(params, kwargs)

    def compute(self, candidate: Any, evidence: Any) -> float:
        """Score ``candidate`` (a built kernel or divergence) on prepared ``evidence``."""
        raise NotImplementedError
