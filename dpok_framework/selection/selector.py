"""The generic selector: scores every installed kernel/divergence with every registered metric.

It names no concrete metric, kernel or divergence: candidates are whatever the registry holds (first-
and third-party alike, or an explicit list), metrics are every registered ``selection_metric`` whose
``target`` matches.  A candidate is *ruled out* (kept in the table with the reason) when it cannot be
built or fitted with its params, when the evidence cannot evaluate it (log K not finite, D raising or
NaN), or when a metric vetoes it.  A metric that raises on a candidate records nan (the worst value of
that metric) and the error, so one broken plugin cannot take the selection down.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Mapping

from ..errors import AdmissionError, ConfigError, DpokError
from ..registry import Registry
from .evidence import DivergenceEvidence, KernelEvidence
from .ranking import CandidateRow, score_rows
from .result import KindTable, MetricInfo, SelectionResult
from ..components.selection import MetricValue

Spec = str | Mapping[str, Any]


def _spec_dict(spec: Spec) -> dict[str, Any]:
    if isinstance(spec, str):
        return {"name": spec, "params": {}}
    if "name" not in spec:
        raise ConfigError(f"a candidate spec needs a `name`, got {dict(spec)!r}")
    return {"name": spec["name"], "params": dict(spec.get("params") or {})}


class Selector:
    """Ranks candidates of one kind on evidence, or both kinds into a :class:`SelectionResult`.

    ``metrics``: restrict to these registered metric names (default: all).  ``weights``: per-metric
    weight in the score (default 1).  ``metric_params``: ``{metric name: params dict}``.
    """

    def __init__(self, registry: Registry, metrics: Iterable[str] | None = None,
                 weights: Mapping[str, float] | None = None,
                 metric_params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.registry = registry
        available = registry.names("selection_metric")
        chosen = list(metrics) if metrics is not None else available
        unknown = [m for m in chosen if m not in available]
        if unknown:
            raise ConfigError(f"selection.metrics: unknown metric(s) {unknown}; available: "
                              f"{', '.join(available) or 'none (install dpok-selection)'}")
        for field_name, mapping in (("weights", weights or {}), ("metric_params", metric_params or {})):
            stray = [m for m in mapping if m not in chosen]
            if stray:
                raise ConfigError(f"selection.{field_name}: {stray} are not among the selected metrics {chosen}")
        bad = {m: w for m, w in (weights or {}).items() if not (w >= 0.0)}
        if bad:
            raise ConfigError(f"selection.weights must be >= 0, got {bad}")
        self.weights = dict(weights or {})
        self.metrics: dict[str, Any] = {}
        self.excluded_metrics: dict[str, str] = {}  # metric -> why runtime admission refused it
        for m in chosen:
            try:
                self.metrics[m] = registry.build("selection_metric", {"name": m, "params": dict(
                    (metric_params or {}).get(m, {}))}, where=f"selection.metric_params.{m}")
            except AdmissionError as exc:
                self.excluded_metrics[m] = str(exc)

    def metrics_for(self, kind: str) -> dict[str, Any]:
        return {n: m for n, m in self.metrics.items() if m.target == kind}

    # -- one kind ---------------------------------------------------------------------------
    def rank(self, kind: str, evidence: KernelEvidence | DivergenceEvidence,
             candidates: Iterable[Spec] | None = None, require_link: bool = False) -> KindTable:
        if kind not in ("kernel", "divergence"):
            raise ValueError(f"kind must be 'kernel' or 'divergence', got {kind!r}")
        if evidence.target != kind:
            raise TypeError(f"{kind} candidates need {kind} evidence, got {type(evidence).__name__}")
        metrics = self.metrics_for(kind)
        if not metrics:
            raise DpokError(f"no selection metric targets {kind}s: install dpok-selection (or a plugin that "
                            f"registers {kind} metrics), or do not ask for `{kind}: auto`")
        specs = [_spec_dict(s) for s in (candidates if candidates is not None else self.registry.names(kind))]
        if not specs:
            raise DpokError(f"no {kind} candidates: none is installed (is the dpok-{kind}s plugin installed?)")
        names = [s["name"] for s in specs]
        if len(set(names)) != len(names):
            raise ConfigError(f"selection.{kind}s lists a candidate twice: {names}")
        rows = [self._evaluate(kind, spec, evidence, metrics, require_link) for spec in specs]
        score_rows(rows, {n: m.higher_is_better for n, m in metrics.items()}, self.weights)
        stats = {}
        for n, m in metrics.items():
            try:
                s = m.data_statistics(evidence)
            except Exception:  # noqa: BLE001 - informational only
                s = {}
            if s:
                stats[n] = s
        infos = [MetricInfo(n, type(m).column(), m.higher_is_better, m.favours, self.weights.get(n, 1.0))
                 for n, m in metrics.items()]
        excluded = {n: why for n, why in self.excluded_metrics.items()
                    if self.registry.classes("selection_metric")[n].target == kind}
        return KindTable(kind, infos, rows, stats, evidence.describe(), excluded)

    def _evaluate(self, kind: str, spec: dict[str, Any], evidence, metrics: dict[str, Any],
                  require_link: bool) -> CandidateRow:
        row = CandidateRow(spec["name"], spec)
        start = time.perf_counter()
        try:
            candidate = self.registry.build(kind, spec, where=f"selection.{kind}s.{spec['name']}")
        except AdmissionError as exc:
            row.excluded = str(exc)
            return row
        except DpokError as exc:
            row.ruled_out = f"cannot be built: {exc}"
            return row
        except Exception as exc:  # noqa: BLE001 - a broken third-party candidate must not stop selection
            row.ruled_out = f"cannot be built ({type(exc).__name__}: {exc})"
            return row
        if require_link and not getattr(candidate, "has_link", False):
            row.ruled_out = "no f-DPO link psi(r) (divergence.link needs one; use it as divergence.penalty)"
            return row
        if kind == "kernel":
            fit_start = time.perf_counter()
            try:
                candidate.fit(evidence.fit_embeddings())
            except Exception as exc:  # noqa: BLE001
                row.ruled_out = f"fit() failed ({type(exc).__name__}: {exc})"
                return row
            row.fit_seconds = time.perf_counter() - fit_start
        problem = evidence.check(candidate)
        if problem:
            row.ruled_out = problem
            row.seconds = time.perf_counter() - start
            return row
        for name, metric in metrics.items():
            try:
                row.values[name] = metric.evaluate(candidate, evidence)
            except Exception as exc:  # noqa: BLE001 - isolate a failing metric
                row.values[name] = MetricValue(float("nan"))
                row.errors[name] = f"{type(exc).__name__}: {exc}"
        vetoes = [f"{name}: {v.veto}" for name, v in row.values.items() if v.veto]
        if vetoes:
            row.ruled_out = "; ".join(vetoes)
        row.seconds = time.perf_counter() - start
        return row

    # -- both kinds -------------------------------------------------------------------------
    def select(self, kernel_evidence: KernelEvidence | None = None,
               divergence_evidence: DivergenceEvidence | None = None, *,
               kernels: Iterable[Spec] | None = None, divergences: Iterable[Spec] | None = None,
               require_link: bool = False, fixed: Mapping[str, str] | None = None,
               config: Mapping[str, Any] | None = None) -> SelectionResult:
        """Rank kernels on ``kernel_evidence`` and divergences on ``divergence_evidence`` (either may be
        None: that kind is then not selected; ``fixed`` names what the run uses instead, for labels)."""
        if kernel_evidence is None and divergence_evidence is None:
            raise DpokError("nothing to select: pass kernel evidence (embeddings) and/or divergence evidence "
                            "(distributions)")
        kt = self.rank("kernel", kernel_evidence, kernels) if kernel_evidence is not None else None
        dt = (self.rank("divergence", divergence_evidence, divergences, require_link=require_link)
              if divergence_evidence is not None else None)
        return SelectionResult(kt, dt, fixed=dict(fixed or {}), config=dict(config or {}))
