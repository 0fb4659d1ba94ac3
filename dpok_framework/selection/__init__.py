"""Data-driven selection of the kernel and the divergence (the paper's point (iii)).

    >>> from dpok_framework import get_registry
    >>> from dpok_framework.selection import KernelEvidence, Selector
    >>> result = Selector(get_registry()).select(KernelEvidence(e_x, e_pos, e_neg))   # doctest: +SKIP
    >>> result.kernel, result.reason                                                   # doctest: +SKIP

The selector names no concrete component: it scores every installed candidate with every registered
``selection_metric`` plugin.  See ``docs/selection.md`` for the metric definitions and decisions.
"""

from .evidence import DivergenceEvidence, KernelEvidence
from .ranking import CandidateRow, rank_utilities
from .result import KindTable, MetricInfo, SelectionResult
from .run import needs_selection, resolve_auto, resolve_config, select_for_run
from .selector import Selector

__all__ = ["CandidateRow", "DivergenceEvidence", "KernelEvidence", "KindTable", "MetricInfo",
           "SelectionResult", "Selector", "needs_selection", "rank_utilities", "resolve_auto",
           "resolve_config", "select_for_run"]
