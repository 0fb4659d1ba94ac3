"""Base class for data-driven selection metrics (kernel or divergence choice)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from .base import Component, Params


@dataclass(frozen=True)
class MetricValue:
    """What a metric says about one candidate.

    ``value``: the score (``nan`` when undefined on this data; the ranking then treats it as the
    worst value of that metric).  ``veto``: a reason the candidate cannot be used on this data at
    all (e.g. "D(p||q) is +inf on 3 of 40 pairs"); a vetoed candidate is ruled out whatever its
    other scores.  ``details``: extra numbers for the report (standard errors, counts).
    """

    value: float
    veto: str | None = None
    details: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, result: "MetricValue | float") -> "MetricValue":
        if isinstance(result, MetricValue):
            return result
        return cls(float(result))

    @property
    def defined(self) -> bool:
        return not math.isnan(self.value)


class SelectionMetric(Component):
    """Scores one candidate kernel or divergence on data.

    Class attributes:

    * ``target``: which kind of candidate it scores (``"kernel"`` or ``"divergence"``); the selector
      runs a metric only on candidates of that kind and passes the matching evidence object
      (:class:`dpok_framework.selection.KernelEvidence` / ``DivergenceEvidence``).
    * ``higher_is_better``: its direction.
    * ``label``: short column header for tables (defaults to ``name``).
    * ``favours``: a short phrase for reports (e.g. "kernels that separate chosen from rejected").
    * ``reports_se``: every value carries its standard error in ``details["se"]`` (the ranking then ties
      values within two combined standard errors).  Whenever ``details["se"]`` is present it must be finite
      and >= 0.

    Metrics must be invariant to a positive rescaling of the candidate (gamma and alpha absorb the
    scale of the kernel log-ratio and of the divergence), and to the order of the pairs.
    """

    kind: ClassVar[str] = "selection_metric"
    target: ClassVar[Literal["kernel", "divergence"]] = "kernel"
    higher_is_better: ClassVar[bool] = True
    label: ClassVar[str] = ""
    favours: ClassVar[str] = ""
    reports_se: ClassVar[bool] = False

    def __init__(self, params: Params | None = None, **kwargs) -> None:
        self._init_params(params, kwargs)

    def compute(self, candidate: Any, evidence: Any) -> "MetricValue | float":
        """Score ``candidate`` (a built, fitted kernel or divergence) on prepared ``evidence``."""
        raise NotImplementedError

    def evaluate(self, candidate: Any, evidence: Any) -> MetricValue:
        """:meth:`compute`, normalised to a :class:`MetricValue`."""
        return MetricValue.of(self.compute(candidate, evidence))

    def data_statistics(self, evidence: Any) -> dict[str, float]:
        """Candidate-free statistics of the data this metric looks at (e.g. the mean support overlap),
        reported beside the scores; default: none."""
        return {}

    @classmethod
    def column(cls) -> str:
        return cls.label or cls.name

    @classmethod
    def describe(cls) -> dict[str, Any]:
        out = super().describe()
        out.update(target=cls.target, higher_is_better=cls.higher_is_better, favours=cls.favours,
                   label=cls.column(), reports_se=cls.reports_se)
        return out
